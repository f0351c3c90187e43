"""Privacy provider for monitoring: the alerts about a member of staff (their sign-ins, their reads),
the breach records started from them, the tallies the detection pass keeps, and the countries a
person's account signed in from (`SignInCountry`, the processor's: sign-ins belong to no school, so it
is not in a school's access bundle).

Nothing is erased with the person ahead of the alerts themselves: an alert is the school's security
record of what its audit log showed (kept like the audit log it points into), and a breach record is
the controller's record under UK GDPR Art. 33(5), which it must keep. Tallies are counts the pass
deletes after 35 days.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.models import Alert
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.models import User

_KEPT = "kept as the school's security record of what its audit log showed (monitoring alerts)"
_BREACH_KEPT = "kept as the school's record of a personal data breach (UK GDPR Art. 33(5))"
_TALLY = "counts of audit events, deleted by the detection pass after 35 days"
_COUNTRIES = (
    "kept as the security record of the countries the account signed in from (one row each, the "
    "account's, not one school's), which the sign-in rules compare new sign-ins with"
)


class MonitoringPrivacyProvider:
    app_label = "monitoring"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("monitoring.Alert", ("school_user",), ("audit.activity",)),
            HeldData("monitoring.Breach", ("school_user",), ("audit.activity",)),
            HeldData("monitoring.Tally", ("school_user",), ("audit.activity",)),
            HeldData("monitoring.SignInCountry", ("school_user",), ("school_user.sign_in",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        # Alerts about the person: by their account, and by the address typed at a failed sign-in
        # (a brute-force alert keyed by the email when the attempt named no account in that case).
        keys = [f"user:{subject.id}"]
        email = User.objects.filter(pk=subject.id).values_list("email", flat=True).first()
        if email:
            keys.append(f"email:{email.lower()}")
        about = Alert.objects.filter(school_id=subject.school_id, subject_key__in=keys).order_by("id")
        return {
            "monitoring.Alert": [
                {
                    "what was found": a.summary,
                    "from": a.window_start,
                    "to": a.window_end,
                    "status": a.get_status_display(),
                }
                for a in about
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "school_user":
            report.kept["monitoring.Alert"] = _KEPT
            report.kept["monitoring.Breach"] = _BREACH_KEPT
            report.kept["monitoring.Tally"] = _TALLY
            report.kept["monitoring.SignInCountry"] = _COUNTRIES
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Alerts are only stored and read; a restricted account's sign-ins are refused before the log."""
