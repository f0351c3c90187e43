"""Privacy provider for the people who sign in to Steward (school users, processor staff).

A Steward account can belong to several organisations, so a school answers only for its own
part: the user's memberships of that school, and the account row itself only while that school
is the only organisation the user belongs to. Erasure or restriction asked of one school never
reaches the user's memberships (or ability to sign in) elsewhere.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.models import Membership, SignInProviderFactor, User
from steward.tenancy.selectors import member_elsewhere

_ACCOUNT_FIELDS = ("email", "full_name", "is_active", "date_joined", "last_login")


class SchoolUserPrivacyProvider:
    app_label = "tenancy"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("tenancy.User", ("school_user",), ("school_user.account", "school_user.sign_in")),
            HeldData("tenancy.Membership", ("school_user",), ("school_user.role",)),
            HeldData(
                "tenancy.SignInProviderFactor", ("school_user",), ("school_user.authenticator", "school_user.sign_in")
            ),
            HeldData("tenancy.DataProtectionContact", ("staff",), ("staff.work_contact",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        memberships = list(
            Membership.objects.filter(user_id=subject.id, organisation_id=subject.school_id).select_related(
                "organisation"
            )
        )
        if not memberships:
            return {}
        users = User.objects.filter(pk=subject.id).values(*_ACCOUNT_FIELDS)
        factors = list(
            SignInProviderFactor.objects.filter(user_id=subject.id).values("name", "created_at", "last_used_at")
        )
        held = {"tenancy.SignInProviderFactor": factors} if factors else {}
        return held | {
            "tenancy.User": list(users),
            "tenancy.Membership": [
                {
                    "organisation": m.organisation.name,
                    "role": m.get_role_display(),
                    "since": m.created_at,
                    "restricted_at": m.restricted_at,
                }
                for m in memberships
            ],
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind != "school_user":
            return report
        memberships = Membership.objects.filter(user_id=subject.id, organisation_id=subject.school_id)
        report.deleted["tenancy.Membership"] = memberships.count()
        if member_elsewhere(user_id=subject.id, school_id=subject.school_id):
            report.deleted["tenancy.User"] = 0
            report.kept["tenancy.User"] = (
                "the account stays for the user's other organisations; only this school's membership is removed"
            )
            if not dry_run:
                memberships.delete()
            return report
        report.deleted["tenancy.User"] = User.objects.filter(pk=subject.id).count()
        if not dry_run:
            memberships.delete()
            SignInProviderFactor.objects.filter(user_id=subject.id).delete()  # no session rests on it again
            User.objects.filter(pk=subject.id).update(
                is_active=False,
                email=f"erased-{subject.id}@invalid",
                full_name="Erased user",
                password="!",  # noqa: S106 - unusable hash  # nosec B106
            )
        report.kept["tenancy.User"] = "an anonymised row remains so that audit events keep a valid actor id"
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A restricted user holds no role at this school until the restriction is lifted; one who
        belongs to no other organisation also may not sign in at all."""
        if subject.kind != "school_user":
            return
        Membership.objects.filter(user_id=subject.id, organisation_id=subject.school_id).update(
            restricted_at=timezone.now() if restricted else None
        )
        if not member_elsewhere(user_id=subject.id, school_id=subject.school_id):
            User.objects.filter(pk=subject.id).update(is_active=not restricted)
