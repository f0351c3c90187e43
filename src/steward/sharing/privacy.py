"""Privacy provider for sharing: the disclosure log is exported in subject access, kept on erasure."""

from __future__ import annotations

from typing import Any

from steward.mis.privacy import subject_row
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.sharing.models import Disclosure
from steward.sharing.selectors import disclosures_of_subject


class SharingPrivacyProvider:
    app_label = "sharing"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("sharing.Disclosure", ("learner", "contact", "staff"), ("learner.identity",)),
            HeldData("sharing.DataFlowEvent", ("school_user",), ("school_user.account",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        row = subject_row(subject)
        if row is None:
            return {}
        return {
            "sharing.Disclosure": [
                {
                    "recipient": d.recipient.name,
                    "record_type": d.record_type,
                    "records": d.record_count,
                    "channel": d.channel,
                    "at": d.at,
                }
                for d in disclosures_of_subject(school_id=row.school_id, source_id=row.source_id)
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        report.kept[Disclosure._meta.label] = (
            "kept: the record of who received the subject's data is what Art. 19 notifications and "
            "accountability (Art. 5(2)) need"
        )
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Restriction is read from mis.ProcessingRestriction by every release query."""
