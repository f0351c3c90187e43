"""Privacy provider for the people who sign in to Steward (school users, processor staff)."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict

from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.models import Membership, User


class SchoolUserPrivacyProvider:
    app_label = "tenancy"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("tenancy.User", ("school_user",), ("school_user.account", "school_user.sign_in")),
            HeldData("tenancy.Membership", ("school_user",), ("school_user.role",)),
            HeldData("tenancy.DataProtectionContact", ("staff",), ("staff.work_contact",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        users = User.objects.filter(pk=subject.id)
        return {
            "tenancy.User": [model_to_dict(u, exclude=["password", "groups", "user_permissions"]) for u in users],
            "tenancy.Membership": [
                {"organisation": m.organisation.name, "role": m.get_role_display(), "since": m.created_at}
                for m in Membership.objects.filter(user_id=subject.id).select_related("organisation")
            ],
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind != "school_user":
            return report
        report.deleted["tenancy.Membership"] = Membership.objects.filter(user_id=subject.id).count()
        report.deleted["tenancy.User"] = User.objects.filter(pk=subject.id).count()
        if not dry_run:
            Membership.objects.filter(user_id=subject.id).delete()
            User.objects.filter(pk=subject.id).update(
                is_active=False,
                email=f"erased-{subject.id}@invalid",
                full_name="Erased user",
                password="!",  # noqa: S106 - unusable hash
            )
        report.kept["tenancy.User"] = "an anonymised row remains so that audit events keep a valid actor id"
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A restricted school user may not sign in until the restriction is lifted."""
        if subject.kind == "school_user":
            User.objects.filter(pk=subject.id).update(is_active=not restricted)
