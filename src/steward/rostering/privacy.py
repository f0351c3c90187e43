"""Privacy provider for app sign-in: a Steward user's answers to "give this app these details?".

They are the person's own choices, kept only to ask again when needed and to show on their account
page, so erasure at a school deletes them there (and with them the links of any tokens issued under
them, so userinfo stops answering). What an app was given is the school's disclosure log, kept by
sharing. Restriction needs nothing here: a restricted membership signs in to no app
(`signin.sign_in_for` refuses it).
"""

from __future__ import annotations

from typing import Any

from steward.register.providers import ErasureReport, HeldData, Subject
from steward.rostering.models import SignInConsent


class RosteringPrivacyProvider:
    app_label = "rostering"

    def describe(self) -> list[HeldData]:
        return [HeldData("rostering.SignInConsent", ("school_user",), ("school_user.sign_in",))]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        return {
            "rostering.SignInConsent": [
                {"app": c.app.name, "given": c.given, "claims": c.claims, "at": c.at, "withdrawn_at": c.withdrawn_at}
                for c in SignInConsent.objects.filter(user_id=subject.id, school_id=subject.school_id)
                .select_related("app")
                .order_by("at", "id")
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind != "school_user":
            return report
        answers = SignInConsent.objects.filter(user_id=subject.id, school_id=subject.school_id)
        report.deleted["rostering.SignInConsent"] = answers.count()
        if not dry_run:
            answers.delete()
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Nothing to change: a restricted membership is refused at every sign-in."""
