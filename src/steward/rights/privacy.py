"""Privacy provider for rights requests: a request about a subject is itself their data."""

from __future__ import annotations

from typing import Any

from steward.register.providers import ErasureReport, HeldData, Subject
from steward.rights.models import RightsRequest


class RightsPrivacyProvider:
    app_label = "rights"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("rights.RightsRequest", ("learner", "contact", "staff", "school_user"), ("learner.identity",)),
            HeldData("rights.RightsRequestEvent", ("school_user",), ("school_user.account",)),
            # Who withheld a part of an access bundle, and why: the staff member's name, kept with the request.
            HeldData("rights.WithheldItem", ("school_user",), ("school_user.account",)),
            # The PDF of the newest downloaded access bundle: a copy of what the bundle itself holds.
            HeldData("rights.AccessBundlePdf", ("learner", "contact", "staff", "school_user"), ("learner.identity",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        rows = RightsRequest.objects.filter(
            school_id=subject.school_id, subject_kind=subject.kind, subject_id=subject.id
        ).order_by("id")
        return {
            "rights.RightsRequest": [
                {"kind": r.get_kind_display(), "received_on": r.received_on, "status": r.get_status_display()}
                for r in rows
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        report.kept["rights.RightsRequest"] = "kept as the record that the request was answered (Art. 5(2))"
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A request's record is only stored; nothing to stop."""
