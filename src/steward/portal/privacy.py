"""Privacy provider for the parent portal: accounts, their links, preferences and notifications.

A parent's account is its own data subject (`parent_user`); a contact's invitations and link
belong to the contact. Erasing a contact ends their portal access; erasing an account deletes
it with its links, push subscriptions and the notifications sent to it.
"""

from __future__ import annotations

from typing import Any

from steward.mis.privacy import subject_row
from steward.portal.models import ParentAccount, ParentLink, PortalInvitation, PortalNotification, PushSubscription
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.scope import processor_scope

_ACCOUNT_FIELDS = ("email", "full_name", "created_at", "last_sign_in_at", "closed_at", "notify_kinds")


class PortalPrivacyProvider:
    app_label = "portal"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("portal.ParentAccount", ("parent_user",), ("parent_user.account", "parent_user.preferences")),
            HeldData("portal.ParentLink", ("parent_user",), ("parent_user.account",)),
            HeldData("portal.PushSubscription", ("parent_user",), ("parent_user.preferences",)),
            HeldData("portal.PortalNotification", ("parent_user",), ("parent_user.preferences", "learner.identity")),
            HeldData("portal.PortalInvitation", ("contact",), ("contact.identity", "contact.contact_details")),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind == "parent_user":
            account = ParentAccount.objects.filter(pk=subject.id).first()
            if account is None:
                return {}
            return {
                "portal.ParentAccount": [
                    {
                        **{f: getattr(account, f) for f in _ACCOUNT_FIELDS},
                        "notify_by_email": account.notify_by_email,
                        "notify_by_push": account.notify_by_push,
                        "two_factor": account.two_factor,
                        "analytics_cookies": account.analytics_cookies,
                    }
                ],
                "portal.ParentLink": [
                    {"school": link.school.name, "contact_source_id": link.contact_source_id, "since": link.created_at}
                    for link in account.links.select_related("school").order_by("id")
                ],
                "portal.PushSubscription": [
                    {"endpoint": s.endpoint, "since": s.created_at} for s in account.push_subscriptions.order_by("id")
                ],
                "portal.PortalNotification": [
                    {"kind": n.kind, "summary": n.summary, "channels": n.channels, "at": n.created_at}
                    for n in PortalNotification.objects.filter(parent=account).order_by("id")
                ],
            }
        row = subject_row(subject)
        if row is None or subject.kind != "contact":
            return {}
        return {
            "portal.PortalInvitation": [
                {"email": i.email, "sent": i.created_at, "accepted": i.accepted_at}
                for i in PortalInvitation.objects.filter(contact_source_id=row.source_id).order_by("id")
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "parent_user":
            # The account goes with all its links, at every school (as before row-level security): a
            # school's scope alone would hide its links elsewhere, and deleting the account would fail.
            with processor_scope():
                accounts = ParentAccount.objects.filter(pk=subject.id)
                report.deleted["portal.ParentAccount"] = accounts.count()
                report.deleted["portal.ParentLink"] = ParentLink.objects.filter(parent_id=subject.id).count()
                report.deleted["portal.PushSubscription"] = PushSubscription.objects.filter(
                    parent_id=subject.id
                ).count()
                notifications = PortalNotification.objects.filter(parent_id=subject.id)
                report.deleted["portal.PortalNotification"] = notifications.count()
                if not dry_run:
                    notifications.delete()
                    accounts.delete()
            return report
        row = subject_row(subject)
        if row is None or subject.kind != "contact":
            return report
        invitations = PortalInvitation.objects.filter(contact_source_id=row.source_id)
        links = ParentLink.objects.filter(school_id=row.school_id, contact_source_id=row.source_id)
        report.deleted["portal.PortalInvitation"] = invitations.count()
        report.deleted["portal.ParentLink"] = links.count()
        if not dry_run:
            invitations.delete()
            links.delete()
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A restricted account cannot sign in and is sent nothing; its data is kept."""
        if subject.kind == "parent_user":
            ParentAccount.objects.filter(pk=subject.id).update(is_active=not restricted)
