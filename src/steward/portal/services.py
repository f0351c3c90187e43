"""Inviting contacts to the portal, accepting an invitation, and a parent's correction request.

An invitation link carries `<school id>.<secret>`: the school id names the tenant scope to look
it up in, and only the secret's SHA-256 is stored, so the database never holds a usable link.
Links are single-use and expire after `INVITATION_DAYS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_record
from steward.mis.models import Contact, GroupEnrolment, LearnerContact
from steward.mis.selectors import enrolments_on_roll
from steward.portal.models import ParentAccount, ParentLink, PortalInvitation, PortalSettings
from steward.portal.selectors import pending_invitations
from steward.rights.models import RightsRequest
from steward.rights.services import request_log
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope

INVITATION_DAYS = 14


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def eligible_contacts(
    school_id: int, *, year_group: str = "", group_source_id: str = "", not_invited_only: bool = False
) -> QuerySet[Contact]:
    """Contacts with parental responsibility for a learner on roll (optionally in a year group or
    class), with an email address, and no portal account yet. Call inside the school's scope."""
    today = timezone.localdate()
    on_roll = enrolments_on_roll(school_id, today)
    if year_group:
        on_roll = on_roll.filter(year_group=year_group)
    learners = on_roll.values("learner_source_id")
    if group_source_id:
        in_group = GroupEnrolment.objects.filter(school_id=school_id, group_source_id=group_source_id).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today)
        )
        learners = learners.filter(learner_source_id__in=in_group.values("learner_source_id"))
    responsible = LearnerContact.objects.filter(
        school_id=school_id,
        contact_source_id=OuterRef("source_id"),
        parental_responsibility=True,
        learner_source_id__in=learners,
    )
    linked = ParentLink.objects.filter(school_id=school_id, contact_source_id=OuterRef("source_id"))
    contacts = (
        Contact.objects.filter(school_id=school_id)
        .filter(Exists(responsible))
        .exclude(Exists(linked))
        .exclude(email="")
    )
    if not_invited_only:
        pending = pending_invitations(school_id).filter(contact_source_id=OuterRef("source_id"))
        contacts = contacts.exclude(Exists(pending))
    return contacts.order_by("surname", "forename", "id")


@dataclass
class InviteReport:
    sent: list[str] = field(default_factory=list)  # contact names
    # contact source id -> the link's token, for callers that deliver it themselves (the demo, the
    # benchmark); never stored, and the back office does not show it.
    tokens: dict[str, str] = field(default_factory=dict)


def invite_contacts(
    *, school: Organisation, contacts: QuerySet[Contact], invited_by: User | None, base_url: str
) -> InviteReport:
    """Invite each contact (replacing any earlier pending invitation); email once committed.

    `contacts` should come from `eligible_contacts`, which leaves out contacts who cannot be invited.
    """
    report = InviteReport()
    now = timezone.now()
    rows = list(contacts.values("source_id", "forename", "surname", "email"))
    if not rows:
        return report
    PortalInvitation.objects.filter(
        school=school, contact_source_id__in=[r["source_id"] for r in rows], accepted_at__isnull=True
    ).filter(revoked_at__isnull=True).update(revoked_at=now)
    messages = []
    invitations = []
    for row in rows:
        token = f"{school.pk}.{secrets.token_urlsafe(32)}"
        invitations.append(
            PortalInvitation(
                school=school,
                contact_source_id=row["source_id"],
                email=row["email"],
                token_hash=_hash(token),
                invited_by=invited_by,
                created_at=now,
                expires_at=now + dt.timedelta(days=INVITATION_DAYS),
            )
        )
        name = f"{row['forename']} {row['surname']}".strip()
        report.sent.append(name)
        report.tokens[row["source_id"]] = token
        messages.append(_invitation_email(school, name, row["email"], f"{base_url}/portal/invitation/{token}/"))
    PortalInvitation.objects.bulk_create(invitations)
    audit_record(
        action="portal_invitations_sent",
        actor_user_id=invited_by.pk if invited_by else None,
        actor_label=str(invited_by or "system"),
        organisation_id=school.pk,
        school_id=school.pk,
        object_type="mis.Contact",
        object_ids=[r["source_id"] for r in rows],
        purpose="parent_portal",
        detail={"count": len(rows)},
    )
    transaction.on_commit(lambda: get_connection().send_messages(messages))
    return report


def _invitation_email(school: Organisation, name: str, email: str, link: str) -> EmailMessage:
    body = (
        f"Dear {name},\n\n"
        f"{school.name} invites you to its parent portal, where you can see information the school shares "
        f"about your children.\n\n"
        f"To create your account, open this link within {INVITATION_DAYS} days:\n{link}\n\n"
        "The link works once. If you did not expect this email, you can ignore it.\n"
    )
    return EmailMessage(subject=f"Your invitation to the {school.name} parent portal", body=body, to=[email])


def invitation_for_token(token: str) -> PortalInvitation | None:
    """The invitation a link names, looked up in its school's scope only (None if malformed)."""
    school_part, _, secret = token.partition(".")
    if not school_part.isdigit() or not secret:
        return None
    with tenant_scope([int(school_part)]):
        return PortalInvitation.objects.select_related("school").filter(token_hash=_hash(token)).first()


class InvitationError(ValueError):
    pass


def invitation_accept(
    *, token: str, full_name: str = "", password: str = "", existing: ParentAccount | None = None
) -> ParentAccount:
    """Use the invitation: create an account (or add the school to `existing`) and link it."""
    invitation = invitation_for_token(token)
    if invitation is None or not invitation.usable:
        raise InvitationError(
            "This invitation link has expired or has already been used. Ask the school for a new one."
        )
    with tenant_scope([invitation.school_id]):
        locked = PortalInvitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.usable:
            raise InvitationError("This invitation link has already been used.")
        if existing is None:
            if ParentAccount.objects.filter(email__iexact=locked.email).exists():
                raise InvitationError("An account already exists for this email address: sign in to accept.")
            if not full_name.strip():
                raise ValidationError({"full_name": "Enter your full name"})
            validate_password(password)
            parent = ParentAccount(email=locked.email.lower(), full_name=full_name.strip())
            parent.set_password(password)
            parent.save()
        else:
            parent = existing
        try:
            with transaction.atomic():
                ParentLink.objects.create(
                    parent=parent, school_id=locked.school_id, contact_source_id=locked.contact_source_id
                )
        except IntegrityError:
            raise InvitationError("This contact already has a portal account.") from None
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        audit_record(
            action="portal_invitation_accepted",
            actor_label=f"parent account {parent.pk}",
            organisation_id=locked.school_id,
            school_id=locked.school_id,
            object_type="mis.Contact",
            object_ids=[locked.contact_source_id],
            purpose="parent_portal",
        )
    return parent


def settings_update(*, school_id: int, values: dict[str, bool], by: User) -> PortalSettings:
    """Switch items on or off (call inside the school's scope); audited with before and after."""
    settings: PortalSettings = PortalSettings.objects.get_or_create(school_id=school_id)[0]
    before = {k: getattr(settings, k) for k in values}
    for key, value in values.items():
        setattr(settings, key, value)
    settings.updated_at, settings.updated_by = timezone.now(), by
    settings.save()
    audit_record(
        action="portal_settings_changed",
        actor_user_id=by.pk,
        actor_label=str(by),
        organisation_id=school_id,
        school_id=school_id,
        object_type="portal.PortalSettings",
        object_ids=[settings.pk],
        detail={"before": before, "after": values},
    )
    return settings


def correction_request(*, parent: ParentAccount, link: ParentLink, correction: str) -> RightsRequest:
    """A parent's correction to their own contact details reaches the school as an Art. 16 request."""
    if not correction.strip():
        raise ValidationError({"correction": "Tell the school what is wrong and what it should be"})
    with tenant_scope([link.school_id]):
        contact = Contact.objects.filter(school_id=link.school_id, source_id=link.contact_source_id).first()
        if contact is None:
            raise ValidationError({"correction": "The school no longer holds your contact record"})
        return request_log(
            school=link.school,
            kind=RightsRequest.Kind.RECTIFICATION,
            subject_kind=RightsRequest.SubjectKind.CONTACT,
            subject_id=contact.pk,
            subject_label=f"{contact.forename} {contact.surname}",
            requested_by=f"{parent.full_name} (parent portal)",
            received_on=timezone.localdate(),
            actor=Actor(label=f"parent account {parent.pk}"),
            note=correction.strip()[:2000],
        )
