"""The published versions of each school's privacy notices.

The table was created by the register (`register_noticeversion`) and moved here with the notice
code; `db_table` keeps the name, so its rows, row-level security policy and grants did not move.
"""

from __future__ import annotations

from django.db import models

from steward.register.classification import PersonalData
from steward.register.models import ProcessingActivity
from steward.tenancy.models import TenantModel


class NoticeVersion(TenantModel):
    """One published version of a school's privacy notice for one service, frozen as it read then.

    Tenant data, although the notice is public: it is one school's record of what it told people
    (kept so that old versions stay readable after the register changes), it copies the school's
    data protection contacts, and a school's rows must leave with the school when its contract
    ends. The public pages open a scope of that one school to read it, as the live notice does.
    """

    service = models.CharField(max_length=30, choices=ProcessingActivity.Service.choices)
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of `content`")
    content = models.TextField(help_text="The notice as structured plain text, one statement a line")
    # Rendering a PDF costs WeasyPrint a few hundred milliseconds of CPU, and anyone may ask for one:
    # it is rendered once per version, on first request, and kept with the version (so it leaves
    # with the school's rows at termination, like the text it renders).
    pdf = models.BinaryField(null=True, editable=False, help_text="The version as PDF, rendered on first request")

    privacy = PersonalData(
        subject="staff",
        fields={"content": "staff.work_contact", "pdf": "staff.work_contact"},
        not_personal={"id", "school", "service", "number", "published_at", "content_hash"},
    )

    class Meta:
        db_table = "register_noticeversion"
        constraints = [
            models.UniqueConstraint(fields=["school", "service", "number"], name="one_notice_version_number"),
        ]
        indexes = [models.Index(fields=["school", "service", "-number"], name="noticeversion_school_latest")]

    def __str__(self) -> str:
        return f"{self.service} notice v{self.number}"
