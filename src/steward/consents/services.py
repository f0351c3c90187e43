"""Commands on consents, data use agreements and marketing preferences.

`consent_in_force` is the check the service desk makes before any copy of school data leaves
for an investigation: it answers from the school's own register of consents, so a withdrawn or
expired consent stops the next copy at once. Every change is audited here, in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.consents.events import ConsentWithdrawn
from steward.consents.models import Consent, DataUseAgreement, MarketingPreference
from steward.core.events import publish
from steward.mis.models import MODEL_BY_TYPE
from steward.notifications.email import send_email
from steward.register.catalogue import CATEGORIES
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope

SPECIAL_CATEGORIES = frozenset(c.code for c in CATEGORIES if c.special_category)
_CATEGORY_CODES = frozenset(c.code for c in CATEGORIES)
_PURPOSE = "consents and agreements"


def _check_record_types(record_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(record_types))
    unknown = [t for t in chosen if t not in MODEL_BY_TYPE]
    if not chosen or unknown:
        raise ValidationError({"record_types": f"name one or more MIS record types; unknown: {unknown}"})
    return chosen


@transaction.atomic
def consent_give(
    *,
    school: Organisation,
    given_by: User,
    actor: Actor,
    kind: str,
    recipient: str,
    record_types: Iterable[str],
    categories: Iterable[str] = (),
    vendor_name: str = "",
    ticket_reference: str = "",
    expires_at: dt.datetime | None = None,
    purpose: str = Consent.Purpose.INVESTIGATION,
) -> Consent:
    """Record a school's consent. A per-ticket consent names its ticket and must end; a consent to
    the MIS vendor names the vendor, so the school knows exactly who receives its data."""
    now = timezone.now()
    errors: dict[str, str] = {}
    if kind == Consent.Kind.PER_TICKET and not ticket_reference.strip():
        errors["ticket_reference"] = "a per-ticket consent names its ticket"
    if kind == Consent.Kind.PER_TICKET and expires_at is None:
        errors["expires_at"] = "a per-ticket consent needs an end"
    if kind == Consent.Kind.STANDING and ticket_reference:
        errors["ticket_reference"] = "a standing consent covers every ticket: leave the ticket out"
    if recipient == Consent.Recipient.MIS_VENDOR and not vendor_name.strip():
        errors["vendor_name"] = "name the vendor that will receive the copy"
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = "the end must be in the future"
    unknown = sorted(set(categories) - _CATEGORY_CODES)
    if unknown:
        errors["categories"] = f"unknown categories: {unknown}"
    if errors:
        raise ValidationError(errors)
    consent: Consent = Consent.objects.create(
        school=school,
        purpose=purpose,
        kind=kind,
        recipient=recipient,
        vendor_name=vendor_name.strip() if recipient == Consent.Recipient.MIS_VENDOR else "",
        ticket_reference=ticket_reference.strip(),
        record_types=_check_record_types(record_types),
        categories=sorted(set(categories)),
        given_by=given_by,
        given_at=now,
        expires_at=expires_at,
    )
    audit_action(
        actor,
        action="consent_given",
        school_id=school.pk,
        object_type="consents.Consent",
        object_ids=[consent.pk],
        purpose=_PURPOSE,
        detail={"kind": consent.kind, "recipient": consent.recipient, "ticket": consent.ticket_reference},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, consent: Consent, withdrawn_by: User, actor: Actor) -> Consent:
    """Withdraw at once; withdrawing twice keeps the first withdrawal's time and person (and is
    audited once: the second changed nothing)."""
    if consent.withdrawn_at is None:
        consent.withdrawn_at = timezone.now()
        consent.withdrawn_by = withdrawn_by
        consent.save(update_fields=["withdrawn_at", "withdrawn_by"])
        audit_action(
            actor,
            action="consent_withdrawn",
            school_id=consent.school_id,
            object_type="consents.Consent",
            object_ids=[consent.pk],
            purpose=_PURPOSE,
        )
        publish(ConsentWithdrawn(school_id=consent.school_id, consent_id=consent.pk, withdrawn_by=actor.label))
    return consent


def consent_in_force(school: Organisation, purpose: str, recipient: str, ticket: str | None = None) -> Consent | None:
    """The consent that allows a copy now, or None.

    With a ticket, that ticket's own consent wins over a standing one (it is the more specific
    decision); without one, only a standing consent counts. Reads in the school's scope, so the
    processor's staff can ask without holding any other access to the school's rows.
    """
    now = timezone.now()
    with tenant_scope([school.id]):
        candidates = Consent.objects.filter(
            school=school, purpose=purpose, recipient=recipient, withdrawn_at__isnull=True, given_at__lte=now
        ).exclude(expires_at__lte=now)
        if ticket:
            per_ticket = candidates.filter(kind=Consent.Kind.PER_TICKET, ticket_reference=ticket).order_by("-given_at")
            found: Consent | None = per_ticket.first()
            if found is not None:
                return found
        return candidates.filter(kind=Consent.Kind.STANDING).order_by("-given_at").first()


@transaction.atomic
def agreement_sign(
    *,
    school: Organisation,
    signed_by: User,
    actor: Actor,
    record_types: Iterable[str],
    purpose: str,
    recipient: str,
    starts_on: dt.date,
    expires_on: dt.date,
    special_categories: Iterable[str] = (),
) -> DataUseAgreement:
    """Record a data use agreement; it gets its own secret key, so pseudonyms differ between agreements."""
    special = sorted(set(special_categories))
    errors: dict[str, str] = {}
    if expires_on < starts_on:
        errors["expires_on"] = "an agreement cannot end before it starts"
    if set(special) - SPECIAL_CATEGORIES:
        errors["special_categories"] = f"not special categories: {sorted(set(special) - SPECIAL_CATEGORIES)}"
    if not purpose.strip() or not recipient.strip():
        errors["purpose"] = "say what the copy is for and which team receives it"
    if errors:
        raise ValidationError(errors)
    agreement: DataUseAgreement = DataUseAgreement.objects.create(
        school=school,
        record_types=_check_record_types(record_types),
        special_categories=special,
        purpose=purpose.strip(),
        recipient=recipient.strip(),
        signed_by=signed_by,
        starts_on=starts_on,
        expires_on=expires_on,
        secret_key=secrets.token_hex(32),
    )
    audit_action(
        actor,
        action="agreement_signed",
        school_id=school.pk,
        object_type="consents.DataUseAgreement",
        object_ids=[agreement.pk],
        purpose=_PURPOSE,
        detail={
            "record_types": agreement.record_types,
            "special_categories": agreement.special_categories,
            "starts_on": str(agreement.starts_on),
            "expires_on": str(agreement.expires_on),
        },
    )
    return agreement


@transaction.atomic
def agreement_revoke(*, agreement: DataUseAgreement, actor: Actor) -> DataUseAgreement:
    """Revoke at once; revoking twice keeps the first time (and is audited once)."""
    if agreement.revoked_at is None:
        agreement.revoked_at = timezone.now()
        agreement.save(update_fields=["revoked_at"])
        audit_action(
            actor,
            action="agreement_revoked",
            school_id=agreement.school_id,
            object_type="consents.DataUseAgreement",
            object_ids=[agreement.pk],
            purpose=_PURPOSE,
        )
    return agreement


def agreement_in_force(*, school: Organisation, today: dt.date) -> DataUseAgreement | None:
    """The newest agreement in force for the school today (call inside the school's scope)."""
    found: DataUseAgreement | None = (
        DataUseAgreement.objects.filter(
            school=school, revoked_at__isnull=True, starts_on__lte=today, expires_on__gte=today
        )
        .order_by("-signed_at", "-id")
        .first()
    )
    return found


@transaction.atomic
def marketing_preference_set(
    *, user: User, channel: str, opted_in: bool, source: str, actor: Actor
) -> MarketingPreference:
    """Add the user's choice; the newest row per channel is the one in force."""
    if channel not in MarketingPreference.Channel.values or source not in MarketingPreference.Source.values:
        raise ValidationError("unknown channel or source")
    preference: MarketingPreference = MarketingPreference.objects.create(
        user=user, channel=channel, opted_in=opted_in, source=source
    )
    audit_action(
        actor,
        action="marketing_opt_in" if opted_in else "marketing_opt_out",
        school_id=None,
        object_type="consents.MarketingPreference",
        object_ids=[preference.pk],
        purpose="the ICT service's mailing list",
    )
    return preference


def marketing_opted_in(*, channel: str) -> QuerySet[User]:
    """Active users whose newest choice for the channel is an opt-in: no choice means no mail."""
    newest = (
        MarketingPreference.objects.filter(user=OuterRef("pk"), channel=channel)
        .order_by("-recorded_at", "-id")
        .values("opted_in")[:1]
    )
    return User.objects.annotate(marketing=Subquery(newest)).filter(marketing=True, is_active=True)


def send_marketing(users: Iterable[User], subject: str, body: str) -> list[User]:
    """Send the processor's own mailing to those of `users` who opted in by email; return them.

    Everyone else is skipped silently: an opt-out (or no choice at all) always wins, whatever
    list the caller built.
    """
    ids = {u.pk for u in users}
    recipients = list(marketing_opted_in(channel=MarketingPreference.Channel.EMAIL).filter(pk__in=ids).order_by("id"))
    for user in recipients:
        send_email(user.email, subject, body)
    return recipients
