"""`NoticeVersion` moved to the notices app: the register forgets it (state only). The table,
its rows and its row-level security stay; `notices.0001_initial` declares the same table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("register", "0008_notice_version_pdf"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="NoticeVersion")],
            database_operations=[],
        ),
    ]
