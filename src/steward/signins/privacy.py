"""Privacy provider for session records: a staff member's and a parent's sign-ins (when, from where,
on what). A staff account may belong to several schools: as for the account itself
(`tenancy.privacy`), a school's erasure deletes the records only when the school is the person's
only organisation. A parent's are deleted only with the account, by the portal, through
`services.forget_parent` (closing it, or erasing it at its last school: the portal's provider
reports them), so that their browsers are signed out too; this provider deletes none of them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from steward.register.providers import ErasureReport, HeldData, Subject
from steward.signins.models import ParentSession, StaffSession
from steward.tenancy.selectors import member_elsewhere

# How long a session record is kept after the session ended (a record never ended, whose browser
# never came back, counts from when it was last seen): 90 days, because the "new sign-in" email
# compares a sign-in with the person's devices and countries of the last 90 days
# (`services.SEEN_WINDOW`); nothing needs them longer. `services.sweep_sessions` enforces it daily,
# keeping each person's latest record only, whatever its age, so that a sign-in after a long absence
# is not taken for the account's first (which sends no new-sign-in email).
KEPT_AFTER_END = dt.timedelta(days=90)

_FIELDS = ("started_at", "last_seen_at", "ended_at", "ended_why", "ip_address", "country_name", "network", "device")


class SignInsPrivacyProvider:
    app_label = "signins"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("signins.StaffSession", ("school_user",), ("school_user.sign_in",)),
            HeldData("signins.ParentSession", ("parent_user",), ("parent_user.sign_in",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind == "school_user":
            rows = StaffSession.objects.filter(user_id=subject.id).order_by("started_at").values(*_FIELDS)
            return {"signins.StaffSession": list(rows)} if rows else {}
        if subject.kind == "parent_user":
            rows = ParentSession.objects.filter(parent_id=subject.id).order_by("started_at").values(*_FIELDS)
            return {"signins.ParentSession": list(rows)} if rows else {}
        return {}

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "school_user":
            if member_elsewhere(user_id=subject.id, school_id=subject.school_id):
                report.deleted["signins.StaffSession"] = 0
                report.kept["signins.StaffSession"] = "the account stays for the user's other organisations"
                return report
            staff = StaffSession.objects.filter(user_id=subject.id)
            report.deleted["signins.StaffSession"] = staff.count()
            if not dry_run:
                staff.delete()
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Nothing to do: a restricted person cannot sign in (tenancy and the portal see to that)."""
