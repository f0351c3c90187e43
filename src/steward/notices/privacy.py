"""Privacy provider for the notices: their only personal data is the data protection contacts
copied into each published notice version (the work contact details the school chose to publish)."""

from __future__ import annotations

from typing import Any

from steward.register.providers import ErasureReport, HeldData, Subject


class NoticesPrivacyProvider:
    app_label = "notices"

    def describe(self) -> list[HeldData]:
        return [HeldData("notices.NoticeVersion", ("staff",), ("staff.work_contact",))]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        """Published notices are public documents about the school, not records about a person."""
        return {}

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "staff":
            report.kept["notices.NoticeVersion"] = (
                "published notice versions are the school's record of what it told data subjects "
                "(UK GDPR Art. 5(2) accountability); the current notice drops a replaced contact at once"
            )
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Nothing to restrict: a published notice is not processing about the contact."""
