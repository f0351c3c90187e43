"""`NoticeVersion` moved from the register to the notices: state only. The table stays
`register_noticeversion` (its rows, row-level security policy and grants with it); the register's
`0009_noticeversion_moved_to_notices` drops the model from the register's state."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("register", "0008_notice_version_pdf"),
        ("tenancy", "0004_tenant_school_unindexed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="NoticeVersion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        (
                            "service",
                            models.CharField(
                                choices=[
                                    ("hosted_mis", "Hosted MIS data"),
                                    ("parent_portal", "Parent portal"),
                                    ("data_exchange", "LA data exchange"),
                                    ("rostering", "Learning platform rostering"),
                                    ("service_desk", "Service desk"),
                                ],
                                max_length=30,
                            ),
                        ),
                        ("number", models.PositiveIntegerField()),
                        ("published_at", models.DateTimeField()),
                        ("content_hash", models.CharField(help_text="SHA-256 of `content`", max_length=64)),
                        (
                            "content",
                            models.TextField(help_text="The notice as structured plain text, one statement a line"),
                        ),
                        (
                            "pdf",
                            models.BinaryField(help_text="The version as PDF, rendered on first request", null=True),
                        ),
                        (
                            "school",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="tenancy.organisation",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "register_noticeversion",
                        "indexes": [
                            models.Index(fields=["school", "service", "-number"], name="noticeversion_school_latest")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("school", "service", "number"), name="one_notice_version_number"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
