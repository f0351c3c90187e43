"""Support access (break-glass): a processor user's time-boxed access to a school's live data.

Why each rule:
- The processor's staff never enter a school's data unless the school lets them: a grant is asked
  for one open ticket, with a reason, a scope and a duration (at most 8 hours, 1 by default); the
  school's admin or DPO approves or refuses it, and a request left unanswered for 12 hours expires.
- An emergency (a named incident category) cannot wait for the school: a processor admin starts the
  access at once, the school is told at once and asked to confirm afterwards; it may still revoke.
- The wall is the database's: an active grant opens a `tenancy.SupportWindow`, which row-level
  security reads on every statement, by its own clock. Ending the grant (expiry, revocation by the
  school, the ticket closing) closes the window; an expired window opens nothing even before the
  sweep has recorded the end.
- Every page the user reads under the grant is audited with the grant's reference; when the grant
  ends, the school's contacts are emailed the list of those reads, and the grant's page shows it.

Call these inside the grant's school's scope (the back office's, or `tenant_scope([school_id])`).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.audit.services import audit_action
from steward.mis.models import MODEL_BY_TYPE
from steward.notifications.email import send_email
from steward.register.labels import action_label, model_label
from steward.servicedesk import notify
from steward.servicedesk.deciders import require_decider
from steward.servicedesk.models import GrantStatus, SupportGrant, Ticket
from steward.tenancy.models import Role, SupportWindow, User
from steward.tenancy.selectors import data_protection_emails, processor_roles

MAX_MINUTES = 8 * 60
DEFAULT_MINUTES = 60
ANSWER_WITHIN = dt.timedelta(hours=12)
REASON_MAX = 2_000
# Back-office areas a grant may open besides MIS record types.
AREAS = {
    "search": "Search for people and records",
    "batches": "MIS batches and their errors",
    "flows": "Sharing flows",
    "rights": "Rights requests",
    "audit": "Audit log",
}
INCIDENT_CATEGORIES = {
    "outage": "Service outage affecting the school",
    "data_corruption": "Data corrupted by an import or a fault",
    "security": "Security incident",
}
_PURPOSE = "service desk support access"


def _audit(actor: Actor, grant: SupportGrant, action: str, **detail: object) -> None:
    audit_action(
        actor,
        action=action,
        school_id=grant.school_id,
        object_type="servicedesk.SupportGrant",
        object_ids=[grant.pk],
        purpose=_PURPOSE,
        detail={"ticket": grant.ticket_reference, **detail},
    )


def _tell_school(grant: SupportGrant, subject: str, body: str) -> None:
    link = f"{settings.STEWARD_BASE_URL}/school/support-access/{grant.pk}/"
    for address in data_protection_emails(school_id=grant.school_id):
        transaction.on_commit(partial(send_email, address, subject, f"{body}\n{link}\n"))


def _check(ticket: Ticket, user: User, reason: str, scope: list[str], minutes: int) -> tuple[str, list[str]]:
    errors: dict[str, str] = {}
    reason = reason.strip()
    if not reason:
        errors["reason"] = "Enter why the ticket needs access to the school's data"
    elif len(reason) > REASON_MAX or "\x00" in reason:
        errors["reason"] = f"The reason must be {REASON_MAX} characters or fewer, of printable text"
    chosen = sorted(set(scope))
    unknown = [s for s in chosen if s not in AREAS and s not in MODEL_BY_TYPE]
    if not chosen:
        errors["scope"] = "Choose at least one area or type of MIS record"
    elif unknown:
        errors["scope"] = f"Unknown areas or MIS record types: {', '.join(unknown)}"
    if not 1 <= minutes <= MAX_MINUTES:
        errors["duration_minutes"] = f"Access lasts between 1 minute and {MAX_MINUTES // 60} hours"
    if errors:
        raise ValidationError(errors)
    if not ticket.is_open:
        raise ValidationError(f"{ticket.reference} is {ticket.get_status_display().lower()}: no access for it")
    if not processor_roles(user=user):
        raise ValidationError(f"{user} is not the ICT service's staff: only they are given support access")
    return reason, chosen


@transaction.atomic
def grant_request(
    *,
    ticket: Ticket,
    user: User,
    reason: str,
    scope: list[str],
    actor: Actor,
    duration_minutes: int = DEFAULT_MINUTES,
    now: dt.datetime | None = None,
) -> SupportGrant:
    """The processor user asks; the school's admins and DPOs are emailed to decide."""
    reason, chosen = _check(ticket, user, reason, scope, duration_minutes)
    grant: SupportGrant = SupportGrant.objects.create(
        school_id=ticket.school_id,
        ticket=ticket,
        ticket_reference=ticket.reference,
        user=user,
        user_label=str(user),
        reason=reason,
        scope=chosen,
        duration_minutes=duration_minutes,
        requested_at=now or timezone.now(),
    )
    _audit(actor, grant, "support_access_requested", scope=chosen, minutes=duration_minutes)
    _tell_school(
        grant,
        f"{grant.ticket_reference}: the ICT service asks for access to your school's data",
        f"{grant.user_label} of the ICT service asks to see your school's data in Steward for "
        f"{duration_minutes} minutes, for {grant.ticket_reference}.\n\nWhy: {reason}\nWhat: {', '.join(chosen)}\n\n"
        f"Approve or refuse it within {int(ANSWER_WITHIN.total_seconds() // 3600)} hours; unanswered, it lapses:",
    )
    return grant


def _open(grant: SupportGrant, at: dt.datetime) -> None:
    assert grant.user_id is not None  # nosec B101: a grant is only opened for a user who exists
    grant.status = GrantStatus.ACTIVE
    grant.starts_at = at
    grant.ends_at = at + dt.timedelta(minutes=grant.duration_minutes)
    grant.window = SupportWindow.objects.create(
        school_id=grant.school_id,
        user_id=grant.user_id,
        grant_reference=grant.reference,
        starts_at=at,
        ends_at=grant.ends_at,
        areas=list(grant.scope),
    )


def _pending(grant: SupportGrant, now: dt.datetime) -> None:
    if grant.status != GrantStatus.REQUESTED:
        raise ValidationError(f"{grant.reference} is already decided: {grant.get_status_display().lower()}")
    if now - grant.requested_at >= ANSWER_WITHIN:
        raise ValidationError(f"{grant.reference} was not answered within 12 hours and has lapsed")
    if grant.ticket is None or not grant.ticket.is_open:
        raise ValidationError(f"{grant.ticket_reference} is no longer open: the request lapsed with it")
    if grant.user_id is None:
        raise ValidationError(f"{grant.reference}: the person who asked no longer has an account")


def _locked(grant: SupportGrant) -> SupportGrant:
    """The grant as it is now, locked for this transaction: two decisions at once (a double click,
    two DPOs) take turns, and the second sees the first's outcome instead of opening a second window."""
    SupportGrant.objects.select_for_update().filter(pk=grant.pk).values_list("pk", flat=True).get()
    grant.refresh_from_db()  # in place: callers keep reading the object they passed
    return grant


@transaction.atomic
def grant_approve(*, grant: SupportGrant, user: User, actor: Actor, now: dt.datetime | None = None) -> SupportGrant:
    """The school's admin or DPO says yes: access opens now for the duration asked."""
    at = now or timezone.now()
    require_decider(user, grant.school_id, grant.reference)
    grant = _locked(grant)
    _pending(grant, at)
    grant.decided_by_label = actor.label
    grant.decided_at = at
    _open(grant, at)
    grant.save()
    _audit(actor, grant, "support_access_approved", until=grant.ends_at.isoformat() if grant.ends_at else "")
    return grant


@transaction.atomic
def grant_refuse(
    *, grant: SupportGrant, user: User, reason: str, actor: Actor, now: dt.datetime | None = None
) -> SupportGrant:
    """The school says no; its reason goes to the processor user who asked (and the ticket's assignee)
    by email, and stays on the grant's page."""
    at = now or timezone.now()
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValidationError({"refusal_reason": f"Enter why (at most {REASON_MAX} characters)"})
    require_decider(user, grant.school_id, grant.reference)
    grant = _locked(grant)
    _pending(grant, at)
    grant.status = GrantStatus.REFUSED
    grant.refusal_reason = reason
    grant.decided_by_label = actor.label
    grant.decided_at = at
    grant.save(update_fields=["status", "refusal_reason", "decided_by_label", "decided_at"])
    _audit(actor, grant, "support_access_refused")
    notify.tell_processor(
        grant.ticket,
        grant.user,
        f"{grant.ticket_reference}: the school refused support access",
        f"{grant.decided_by_label} refused {grant.reference}, the support access asked for on "
        f"{grant.ticket_reference}.\n\nTheir reason: {reason}\n",
    )
    return grant


@transaction.atomic
def grant_emergency(
    *,
    ticket: Ticket,
    user: User,
    incident_category: str,
    reason: str,
    scope: list[str],
    actor: Actor,
    duration_minutes: int = DEFAULT_MINUTES,
    now: dt.datetime | None = None,
) -> SupportGrant:
    """A processor admin starts access at once for a named incident; the school is told now and
    asked to confirm it afterwards (and may revoke it at any time)."""
    if incident_category not in INCIDENT_CATEGORIES:
        raise ValidationError({"incident_category": f"Choose one of: {', '.join(sorted(INCIDENT_CATEGORIES))}"})
    if Role.PROCESSOR_ADMIN not in processor_roles(user=user):
        raise PermissionError(f"{user} is not a processor administrator: only they start emergency access")
    reason, chosen = _check(ticket, user, reason, scope, duration_minutes)
    at = now or timezone.now()
    grant = SupportGrant(
        school_id=ticket.school_id,
        ticket=ticket,
        ticket_reference=ticket.reference,
        user=user,
        user_label=str(user),
        reason=reason,
        scope=chosen,
        duration_minutes=duration_minutes,
        requested_at=at,
        emergency_category=incident_category,
        decided_by_label=f"{actor.label} (emergency)",
        decided_at=at,
    )
    grant.save()
    _open(grant, at)
    grant.save()
    _audit(actor, grant, "support_access_emergency", incident=incident_category, scope=chosen)
    _tell_school(
        grant,
        f"{grant.ticket_reference}: emergency access to your school's data has started",
        f"{grant.user_label} of the ICT service started emergency access to your school's data at "
        f"{at:%H:%M on %d %B %Y} for {duration_minutes} minutes: {INCIDENT_CATEGORIES[incident_category]}.\n\n"
        f"Why: {reason}\n\nPlease confirm it, or revoke it, in Steward:",
    )
    return grant


@transaction.atomic
def grant_confirm(*, grant: SupportGrant, user: User, actor: Actor, now: dt.datetime | None = None) -> SupportGrant:
    """The school confirms an emergency grant after the event."""
    require_decider(user, grant.school_id, grant.reference)
    grant = _locked(grant)
    if not grant.emergency_category or grant.confirmed_at:
        raise ValidationError(f"{grant.reference} is not an emergency grant awaiting confirmation")
    grant.confirmed_by_label = actor.label
    grant.confirmed_at = now or timezone.now()
    grant.save(update_fields=["confirmed_by_label", "confirmed_at"])
    _audit(actor, grant, "support_access_confirmed")
    return grant


def _finish(grant: SupportGrant, status: GrantStatus, because: str, at: dt.datetime) -> None:
    grant.status = status
    grant.ended_at = at
    grant.ended_because = because[:200]
    grant.save(update_fields=["status", "ended_at", "ended_because"])
    # Every window opened under this grant's reference, not only the one linked: nothing it opened
    # may outlive it.
    SupportWindow.objects.filter(grant_reference=grant.reference, closed_at__isnull=True).update(closed_at=at)
    reads = grant_reads(grant)
    lines = [
        f"{e.occurred_at:%Y-%m-%d %H:%M} {action_label(e.action)} ({model_label(e.object_type)}): "
        f"records {', '.join(e.object_ids) or 'none'}"
        for e in reads
    ]
    _tell_school(
        grant,
        f"{grant.reference} has ended: what the ICT service read",
        f"{grant.user_label}'s access to your school's data for {grant.ticket_reference} ended: {because}.\n\n"
        + (f"What was read ({len(lines)}):\n" + "\n".join(lines) if lines else "Nothing was read.")
        + "\n\nAll past grants are on Steward's support access page:",
    )


@transaction.atomic
def grant_revoke(*, grant: SupportGrant, user: User, actor: Actor, now: dt.datetime | None = None) -> SupportGrant:
    """The school ends access now."""
    require_decider(user, grant.school_id, grant.reference)
    grant = _locked(grant)
    if grant.status != GrantStatus.ACTIVE:
        raise ValidationError(f"{grant.reference} is not open: {grant.get_status_display().lower()}")
    _finish(grant, GrantStatus.REVOKED, "revoked by the school", now or timezone.now())
    _audit(actor, grant, "support_access_revoked")
    return grant


def end_for_ticket(*, ticket: Ticket, actor: Actor, now: dt.datetime | None = None) -> int:
    """The ticket closed: its open grants end and its pending requests lapse. Returns how many."""
    at = now or timezone.now()
    count = 0
    for grant in SupportGrant.objects.filter(ticket=ticket, status__in=[GrantStatus.ACTIVE, GrantStatus.REQUESTED]):
        if grant.status == GrantStatus.ACTIVE:
            _finish(grant, GrantStatus.ENDED, "the ticket closed", at)
        else:
            grant.status = GrantStatus.EXPIRED
            grant.ended_at = at
            grant.ended_because = "the ticket closed"
            grant.save(update_fields=["status", "ended_at", "ended_because"])
        _audit(actor, grant, "support_access_ended", because="ticket closed")
        count += 1
    return count


@transaction.atomic
def grant_sweep(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """The scheduled sweep, in the schools' scope: unanswered requests older than 12 hours expire,
    and active grants past their end are ended (the database closed them already). Returns (expired, ended)."""
    at = now or timezone.now()
    actor = Actor.system("support access sweep")
    expired = 0
    for grant in SupportGrant.objects.filter(status=GrantStatus.REQUESTED, requested_at__lte=at - ANSWER_WITHIN):
        grant.status = GrantStatus.EXPIRED
        grant.ended_at = at
        grant.ended_because = "not answered within 12 hours"
        grant.save(update_fields=["status", "ended_at", "ended_because"])
        _audit(actor, grant, "support_access_expired")
        expired += 1
    ended = 0
    # The window's own end counts too: it is what the database judges by.
    lapsed = Q(ends_at__lte=at) | Q(window__ends_at__lte=at) | Q(window__closed_at__isnull=False)
    for grant in SupportGrant.objects.filter(lapsed, status=GrantStatus.ACTIVE).select_related("window"):
        end = min(t for t in (grant.ends_at, grant.window.ends_at if grant.window else None, at) if t is not None)
        _finish(grant, GrantStatus.ENDED, "its time ran out", end)
        _audit(actor, grant, "support_access_ended", because="expiry")
        ended += 1
    return expired, ended


def grant_reads(grant: SupportGrant) -> list[AuditEvent]:
    """Everything read under the grant: the audit log's events that name it, oldest first."""
    return list(
        AuditEvent.objects.filter(school_id=grant.school_id, detail__support_grant=grant.reference).order_by("id")
    )
