"""Privacy provider for the audit log: exported in subject access, never erased (kept as evidence)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from steward.audit.models import AuditEvent
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.selectors import member_elsewhere


class AuditPrivacyProvider:
    app_label = "audit"

    def describe(self) -> list[HeldData]:
        return [HeldData("audit.AuditEvent", ("school_user",), ("audit.activity",))]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        # What the user did for this school or to its data, never their actions for another
        # organisation; their sign-ins (which name no organisation) only while this school is
        # the only one they belong to.
        here = Q(organisation_id=subject.school_id) | Q(school_id=subject.school_id)
        if not member_elsewhere(user_id=subject.id, school_id=subject.school_id):
            here |= Q(organisation__isnull=True, school__isnull=True)
        events = AuditEvent.objects.filter(here, actor_user_id=subject.id).order_by("id")
        return {
            "audit.AuditEvent": [
                dict(row)
                for row in events.values("occurred_at", "action", "object_type", "purpose", "ip_address", "user_agent")
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "school_user":
            report.kept["audit.AuditEvent"] = (
                "kept for the audit period as evidence of access to personal data (Art. 5(2) accountability, "
                "Art. 32 security of processing); the chain cannot be altered"
            )
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Audit events are only stored, never otherwise processed; nothing to stop."""
