"""Privacy provider for the parent portal: accounts, their links, preferences and notifications.

A parent's account is its own data subject (`parent_user`); a contact's invitations and link
belong to the contact. Erasing a contact ends their portal access. An account may be linked to
several schools, so a school answers only for its own part: its links and the notifications it
sent. Erasing the account at its only school deletes it with its push subscriptions; at one of
several, only that school's links and notifications go. The account's sessions go with it, through
`signins.services.forget_parent` (the one path: their browsers are signed out and the records
deleted). Restriction likewise restricts this
school's links, and stops sign-in only for an account linked nowhere else.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from steward.audit.actor import Actor
from steward.mis.privacy import subject_row
from steward.portal.models import ParentAccount, ParentLink, PortalInvitation, PortalNotification, PushSubscription
from steward.register.providers import ErasureReport, FoundPerson, HeldData, PersonQuery, Subject
from steward.signins import services as signins
from steward.signins.models import ParentSession
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
            links = list(
                ParentLink.objects.filter(parent_id=subject.id, school_id=subject.school_id)
                .select_related("school")
                .order_by("id")
            )
            account = ParentAccount.objects.filter(pk=subject.id).first()
            if account is None or not links:
                return {}  # not an account of this school's parents: nothing of it is this school's
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
                    {
                        "school": link.school.name,
                        "contact_source_id": link.contact_source_id,
                        "since": link.created_at,
                        "restricted_at": link.restricted_at,
                    }
                    for link in links
                ],
                # The account's devices serve every school it is linked to: they are this school's
                # to give only while it is the account's only school (as erasure deletes them then).
                "portal.PushSubscription": []
                if _linked_elsewhere(subject)
                else [
                    {"endpoint": s.endpoint, "since": s.created_at} for s in account.push_subscriptions.order_by("id")
                ],
                "portal.PortalNotification": [
                    {"kind": n.kind, "summary": n.summary, "channels": n.channels, "at": n.created_at}
                    for n in PortalNotification.objects.filter(parent=account, school_id=subject.school_id).order_by(
                        "id"
                    )
                ],
            }
        row = subject_row(subject)
        if row is None or subject.kind != "contact":
            return {}
        return {
            "portal.PortalInvitation": [
                {"email": i.email, "sent": i.created_at, "accepted": i.accepted_at}
                for i in PortalInvitation.objects.filter(
                    school_id=row.school_id, contact_source_id=row.source_id
                ).order_by("id")
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "parent_user":
            return _erase_account(subject, report, dry_run=dry_run)
        row = subject_row(subject)
        if row is None or subject.kind != "contact":
            return report
        invitations = PortalInvitation.objects.filter(school_id=row.school_id, contact_source_id=row.source_id)
        links = ParentLink.objects.filter(school_id=row.school_id, contact_source_id=row.source_id)
        report.deleted["portal.PortalInvitation"] = invitations.count()
        report.deleted["portal.ParentLink"] = links.count()
        if not dry_run:
            invitations.delete()
            links.delete()
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """A restricted account sees and is sent nothing of this school (its links are restricted);
        one linked to no other school cannot sign in at all. Its data is kept."""
        if subject.kind != "parent_user":
            return
        links = ParentLink.objects.filter(parent_id=subject.id, school_id=subject.school_id)
        if not links.exists():
            return
        links.update(restricted_at=timezone.now() if restricted else None)
        if not _linked_elsewhere(subject):
            ParentAccount.objects.filter(pk=subject.id).update(is_active=not restricted)


def _linked_elsewhere(subject: Subject) -> bool:
    """Asked under the processor scope: the school's own scope hides the account's other links."""
    with processor_scope():
        return ParentLink.objects.filter(parent_id=subject.id).exclude(school_id=subject.school_id).exists()


def _erase_account(subject: Subject, report: ErasureReport, *, dry_run: bool) -> ErasureReport:
    """This school's links and notifications go; the account itself only if no other school links it."""
    links = ParentLink.objects.filter(parent_id=subject.id, school_id=subject.school_id)
    if not links.exists():
        return report
    notifications = PortalNotification.objects.filter(parent_id=subject.id, school_id=subject.school_id)
    report.deleted["portal.ParentLink"] = links.count()
    report.deleted["portal.PortalNotification"] = notifications.count()
    if _linked_elsewhere(subject):
        report.deleted["portal.ParentAccount"] = 0
        report.kept["portal.ParentAccount"] = (
            "the account stays for the parent's other schools; only this school's links and notifications are removed"
        )
        if not dry_run:
            notifications.delete()
            links.delete()
        return report
    accounts = ParentAccount.objects.filter(pk=subject.id)
    report.deleted["portal.ParentAccount"] = accounts.count()
    report.deleted["portal.PushSubscription"] = PushSubscription.objects.filter(parent_id=subject.id).count()
    report.deleted["signins.ParentSession"] = ParentSession.objects.filter(parent_id=subject.id).count()
    if not dry_run:
        notifications.delete()
        # The rights service audits the erasure; the sessions' ending is audited under its name.
        signins.forget_parent(subject.id, actor=Actor.system("erasure", organisation_id=subject.school_id))
        # The account's last links are this school's, but deleting it cascades through rows the
        # school's scope cannot see (links left by earlier schools): the processor scope sees them.
        with processor_scope():
            accounts.delete()
    return report


def account_in_school(school_id: int, account_id: int) -> bool:
    """A portal account belongs to a school through a link to one of its contacts (the school named
    explicitly, not only through the tenant scope); rights asks this before recording a request."""
    return ParentLink.objects.filter(school_id=school_id, parent_id=account_id).exists()


def accounts_matching(school_id: int, query: PersonQuery) -> list[FoundPerson]:
    """Portal accounts linked to the school whose name has every word, or whose email is the one typed
    (one query; rights' person search asks this for the portal's kind of subject)."""
    if not (query.words or query.email):
        return []
    accounts = ParentAccount.objects.filter(links__school_id=school_id)
    if query.email:
        accounts = accounts.filter(email__iexact=query.email)
    for word in query.words:
        accounts = accounts.filter(full_name__icontains=word)
    return [
        FoundPerson("parent_user", a.pk, a.full_name, f"parent portal account, {a.email}")
        for a in accounts.distinct().order_by("full_name", "pk")[:20]
    ]
