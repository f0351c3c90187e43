"""Privacy provider for retention's records: legal holds and the erasure replay log.

Erasure keeps both: a hold exists because a legal obligation or claim needs the data, and the
replay log is what makes the erasure survive the restore of an older backup.
"""

from __future__ import annotations

from typing import Any

from steward.mis.privacy import subject_row
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.retention.models import LegalHold, RestoreReplay


class RetentionPrivacyProvider:
    app_label = "retention"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("retention.LegalHold", ("learner", "contact", "staff"), ("learner.identity",)),
            HeldData("retention.RestoreReplay", ("learner", "contact", "staff"), ("learner.identity",)),
            HeldData("retention.ContractTermination", ("school_user",), ("school_user.account",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        row = subject_row(subject)
        if row is None:
            return {}
        holds = LegalHold.objects.filter(
            school_id=row.school_id, subject_kind=subject.kind, subject_source_id=row.source_id
        ).order_by("id")
        fields = ("kind", "reason", "placed_by", "placed_at", "lifted_at")
        return {"retention.LegalHold": list(holds.values(*fields))} if holds else {}

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        report.kept["retention.LegalHold"] = "a legal hold keeps what a claim or inquiry needs until it is lifted"
        report.kept[RestoreReplay._meta.label] = "the erasure must be applied again if an older backup is restored"
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Holds and the replay log are not processed beyond storage."""
