"""What happens to a ticket: raised by a school, triaged, assigned, answered, resolved, closed,
reopened. Each service checks the ticket's state, writes the change and its `TicketEvent`, audits
itself (`audit_action`) in the same transaction, and queues its email for after the commit.

Emails carry the ticket's reference, its summary and a link, never the thread or the description:
the details stay behind sign-in. Callers open the scope: a school's request runs in its school's
scope; the processor's pages open `tenant_scope([ticket.school_id])` for the ticket they act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.notifications.email import send_email
from steward.servicedesk import attachments as files
from steward.servicedesk import calendar, copies, support
from steward.servicedesk.models import Category, Status, Ticket, TicketEvent, TicketMessage, Urgency
from steward.servicedesk.reply_addresses import MARKER, reply_address
from steward.tenancy.models import PROCESSOR_ROLES, Membership, Organisation, User
from steward.tenancy.selectors import contracted_services

SUMMARY_MAX = 120
TEXT_MAX = 10_000
REOPEN_DAYS = 14


def _event(ticket: Ticket, action: str, actor: Actor, at: dt.datetime, before: str = "", after: str = "") -> None:
    TicketEvent.objects.create(
        school_id=ticket.school_id,
        ticket=ticket,
        action=action,
        actor_label=actor.label,
        at=at,
        from_value=before,
        to_value=after,
    )


def _audit(actor: Actor, ticket: Ticket, action: str, **detail: object) -> None:
    audit_action(
        actor,
        action=action,
        school_id=ticket.school_id,
        object_type="servicedesk.Ticket",
        object_ids=[ticket.pk],
        purpose="service desk",
        detail=dict(detail) or None,
    )


def _mail(address: str, subject: str, body: str, *, reply_to: str = "") -> None:
    if address:
        if reply_to:
            body = f"{MARKER}\n\n{body}\nReply to this email to add to the request: the text above the line is kept.\n"
        transaction.on_commit(partial(send_email, address, subject, body, reply_to=reply_to))


def _link(ticket: Ticket, *, for_processor: bool) -> str:
    where = "processor/service-desk" if for_processor else "school/service-desk"
    return f"{settings.STEWARD_BASE_URL}/{where}/{ticket.pk}/"


def _text(errors: dict[str, str], field: str, value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        errors[field] = f"Enter {what}"
    elif len(value) > limit:
        errors[field] = f"{what[0].upper()}{what[1:]} must be {limit} characters or fewer"
    elif "\x00" in value:
        errors[field] = f"{what[0].upper()}{what[1:]} contains a character that cannot be stored"
    return value


def _set_due(ticket: Ticket) -> None:
    first, resolution = calendar.targets(category=ticket.category, urgency=ticket.urgency)
    ticket.first_response_due = calendar.due_after(ticket.created_at, first)
    ticket.resolution_due = calendar.due_after(ticket.created_at, resolution)


def _checked(errors: dict[str, str], uploads: Sequence[files.Upload], *, already: int) -> list[files.Checked]:
    try:
        return files.check(uploads, already=already)
    except ValidationError as refused:
        errors["attachments"] = "; ".join(refused.messages)
        return []


def _check_choices(errors: dict[str, str], category: str, urgency: str) -> None:
    if category not in Category.values:
        errors["category"] = "Choose what the request is about"
    if urgency not in Urgency.values:
        errors["urgency"] = "Choose how urgent it is"


def ticket_raise(
    *,
    school: Organisation,
    raised_by: User,
    category: str,
    urgency: str,
    summary: str,
    description: str,
    actor: Actor,
    now: dt.datetime | None = None,
    attachments: Sequence[files.Upload] = (),
) -> Ticket:
    """A school's member of staff asks for assistance, with files if any (checked before anything is
    written: one refused file refuses the request). The processor's support address is told."""
    written: list[str] = []
    try:
        return _raise(
            school=school,
            raised_by=raised_by,
            category=category,
            urgency=urgency,
            summary=summary,
            description=description,
            actor=actor,
            now=now,
            uploads=attachments,
            written=written,
        )
    except BaseException:
        files.delete_files(written)  # the rows rolled back: no file may outlive them
        raise


@transaction.atomic
def _raise(
    *,
    school: Organisation,
    raised_by: User,
    category: str,
    urgency: str,
    summary: str,
    description: str,
    actor: Actor,
    now: dt.datetime | None,
    uploads: Sequence[files.Upload],
    written: list[str],
) -> Ticket:
    if "service_desk" not in contracted_services(school_id=school.id):
        # The register lists the service desk's processing per contracted service: a school without it
        # has no notice saying its staff's requests are processed, so none is taken.
        raise ValidationError(
            f"{school.name}'s contract with the ICT service does not include the service desk: "
            "ask the ICT service to add it"
        )
    errors: dict[str, str] = {}
    _check_choices(errors, category, urgency)
    summary = _text(errors, "summary", summary, "a summary", SUMMARY_MAX)
    description = _text(errors, "description", description, "what happened", TEXT_MAX)
    checked = _checked(errors, uploads, already=0)
    if errors:
        raise ValidationError(errors)
    ticket = Ticket(
        school=school,
        category=category,
        urgency=urgency,
        summary=summary,
        description=description,
        raised_by=raised_by,
        raised_by_label=actor.label,
        created_at=now or timezone.now(),
    )
    _set_due(ticket)
    ticket.save()
    _event(ticket, "raised", actor, ticket.created_at, after=Status.NEW.label)
    _audit(actor, ticket, "ticket_raise", category=category, urgency=urgency)
    files.save(
        checked,
        ticket=ticket,
        message=None,
        uploader=raised_by,
        actor=actor,
        from_processor=False,
        written=written,
        at=ticket.created_at,
    )
    _mail(
        settings.STEWARD_SERVICE_DESK_EMAIL,
        f"{ticket.reference}: new {ticket.get_urgency_display().lower()} request from {school.name}",
        f"{school.name} raised {ticket.reference} ({ticket.get_category_display()}, "
        f"{ticket.get_urgency_display().lower()} urgency): {ticket.summary}\n\n"
        f"First response due by {timezone.localtime(ticket.first_response_due):%-d %B %Y %H:%M}.\n\n"
        f"Open it in Steward: {_link(ticket, for_processor=True)}\n",
    )
    return ticket


@transaction.atomic
def ticket_triage(*, ticket: Ticket, category: str, urgency: str, actor: Actor) -> Ticket:
    """The processor's staff correct the category or urgency; the due instants follow (still
    counted from when the ticket was raised)."""
    if not ticket.is_open:
        raise ValidationError("Only an open ticket can be triaged")
    errors: dict[str, str] = {}
    _check_choices(errors, category, urgency)
    if errors:
        raise ValidationError(errors)
    changed = False
    for field, value, labels in (("category", category, Category), ("urgency", urgency, Urgency)):
        old = getattr(ticket, field)
        if old != value:
            _event(ticket, field, actor, timezone.now(), str(labels(old).label), str(labels(value).label))
            setattr(ticket, field, value)
            changed = True
    if changed:
        _set_due(ticket)
        ticket.save(update_fields=["category", "urgency", "first_response_due", "resolution_due"])
    _audit(actor, ticket, "ticket_triage", category=category, urgency=urgency, changed=changed)
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: Actor) -> Ticket:
    """Give the ticket to one of the processor's staff (or to nobody)."""
    if ticket.status == Status.CLOSED:
        raise ValidationError("A closed ticket cannot be assigned")
    if (
        assignee is not None
        and not Membership.objects.filter(
            user=assignee,
            organisation__kind=Organisation.Kind.PROCESSOR,
            role__in=PROCESSOR_ROLES,
            restricted_at__isnull=True,
            user__is_active=True,
        ).exists()
    ):
        raise ValidationError({"assignee": "Choose a member of the ICT service's staff"})
    before = str(ticket.assignee) if ticket.assignee_id else "Nobody"
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee"])
    _event(ticket, "assigned", actor, timezone.now(), before, str(assignee) if assignee else "Nobody")
    _audit(actor, ticket, "ticket_assign", assignee=assignee.pk if assignee else None)
    return ticket


def _status(ticket: Ticket, to: Status, actor: Actor, at: dt.datetime) -> None:
    _event(ticket, "status", actor, at, str(Status(ticket.status).label), str(to.label))
    ticket.status = to


def ticket_reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    from_processor: bool,
    actor: Actor,
    now: dt.datetime | None = None,
    attachments: Sequence[files.Upload] = (),
) -> TicketMessage:
    """Add to the thread, with files if any (all checked first; one refused refuses the reply), and
    tell the other side: the school's raiser, or the ticket's assignee (the support address while it
    has none). The processor's first reply stops the first-response clock."""
    written: list[str] = []
    try:
        return _reply(
            ticket=ticket,
            author=author,
            body=body,
            from_processor=from_processor,
            actor=actor,
            now=now,
            uploads=attachments,
            written=written,
        )
    except BaseException:
        files.delete_files(written)
        raise


@transaction.atomic
def _reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    from_processor: bool,
    actor: Actor,
    now: dt.datetime | None,
    uploads: Sequence[files.Upload],
    written: list[str],
) -> TicketMessage:
    errors: dict[str, str] = {}
    body = _text(errors, "body", body, "your reply", TEXT_MAX)
    if uploads:  # two replies at once must not pass the per-ticket limit together: one waits for the other
        list(Ticket.objects.select_for_update().filter(pk=ticket.pk, school_id=ticket.school_id).values_list("pk"))
    checked = _checked(errors, uploads, already=ticket.attachments.filter(school_id=ticket.school_id).count())
    if errors:
        raise ValidationError(errors)
    if not ticket.is_open:
        state = "reopen it first" if ticket.status == Status.RESOLVED and not from_processor else "raise a new one"
        raise ValidationError(f"{ticket.reference} is {ticket.get_status_display().lower()}: {state}")
    at = now or timezone.now()
    message: TicketMessage = TicketMessage.objects.create(
        school_id=ticket.school_id,
        ticket=ticket,
        author=author,
        author_label=actor.label,
        from_processor=from_processor,
        body=body,
        at=at,
    )
    files.save(
        checked,
        ticket=ticket,
        message=message,
        uploader=author,
        actor=actor,
        from_processor=from_processor,
        written=written,
        at=at,
    )
    if from_processor:
        fields = []
        if ticket.first_responded_at is None:
            ticket.first_responded_at = at
            fields.append("first_responded_at")
        if ticket.status == Status.NEW:
            _status(ticket, Status.IN_PROGRESS, actor, at)
            fields.append("status")
        if fields:
            ticket.save(update_fields=fields)
        person = ticket.raised_by if ticket.raised_by and ticket.raised_by.is_active else None
        to = person.email if person else ""
        link = _link(ticket, for_processor=False)
    else:
        person = ticket.assignee
        to = person.email if person else settings.STEWARD_SERVICE_DESK_EMAIL
        link = _link(ticket, for_processor=True)
    _mail(
        to,
        f"{ticket.reference}: new reply",
        f"There is a new reply on {ticket.reference}: {ticket.summary}\n\nRead it in Steward: {link}\n",
        reply_to=reply_address(ticket, person),
    )
    _audit(actor, ticket, "ticket_reply", message=message.pk, from_processor=from_processor)
    return message


@transaction.atomic
def ticket_resolve(*, ticket: Ticket, note: str, actor: Actor, now: dt.datetime | None = None) -> Ticket:
    """The fix is done: the note says what was done, and the raiser is told."""
    errors: dict[str, str] = {}
    note = _text(errors, "note", note, "what was done to resolve it", TEXT_MAX)
    if errors:
        raise ValidationError(errors)
    if not ticket.is_open:
        raise ValidationError(f"{ticket.reference} is already {ticket.get_status_display().lower()}")
    at = now or timezone.now()
    _status(ticket, Status.RESOLVED, actor, at)
    ticket.resolved_at = at
    ticket.resolution_note = note
    ticket.first_responded_at = ticket.first_responded_at or at
    ticket.save(update_fields=["status", "resolved_at", "resolution_note", "first_responded_at"])
    _audit(actor, ticket, "ticket_resolve")
    if ticket.raised_by and ticket.raised_by.is_active:
        _mail(
            ticket.raised_by.email,
            f"{ticket.reference} is resolved",
            f"{ticket.reference} ({ticket.summary}) is resolved. If it is not fixed, you can reopen it within "
            f"{REOPEN_DAYS} days: {_link(ticket, for_processor=False)}\n",
        )
    return ticket


@transaction.atomic
def ticket_close(
    *, ticket: Ticket, actor: Actor, now: dt.datetime | None = None, copy_no_longer_needed: bool = False
) -> Ticket:
    """Nothing more will happen on this ticket; a closed ticket cannot be reopened. Closed with its
        investigation copies no longer needed, they are destroyed now rather than 90 days later. Its
    support-access grants end (their windows close) and pending requests for it lapse."""
    if ticket.status == Status.CLOSED:
        raise ValidationError(f"{ticket.reference} is already closed")
    at = now or timezone.now()
    _status(ticket, Status.CLOSED, actor, at)
    ticket.closed_at = at
    ticket.save(update_fields=["status", "closed_at"])
    _audit(actor, ticket, "ticket_close", copy_no_longer_needed=copy_no_longer_needed)
    support.end_for_ticket(ticket=ticket, actor=actor, now=at)
    if copy_no_longer_needed:
        copies.destroy_for_ticket(
            ticket=ticket, because="the ticket closed with the copy no longer needed", actor=actor, now=at
        )
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, reason: str, actor: Actor, now: dt.datetime | None = None) -> Ticket:
    """The school says a resolved ticket is not fixed (within `REOPEN_DAYS` of the resolution);
    the reason goes into the thread as the school's message and the assignee (or desk) is told."""
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, "why it is not fixed", TEXT_MAX)
    if errors:
        raise ValidationError(errors)
    at = now or timezone.now()
    if ticket.status != Status.RESOLVED or ticket.resolved_at is None:
        raise ValidationError(
            f"Only a resolved ticket can be reopened; {ticket.reference} is {ticket.get_status_display().lower()}"
        )
    if at - ticket.resolved_at > dt.timedelta(days=REOPEN_DAYS):
        raise ValidationError(
            f"{ticket.reference} was resolved more than {REOPEN_DAYS} days ago: raise a new request instead"
        )
    _status(ticket, Status.IN_PROGRESS, actor, at)
    ticket.resolved_at = None
    ticket.save(update_fields=["status", "resolved_at"])
    TicketMessage.objects.create(
        school_id=ticket.school_id,
        ticket=ticket,
        author_id=actor.user_id,
        author_label=actor.label,
        from_processor=False,
        body=reason,
        at=at,
    )
    _audit(actor, ticket, "ticket_reopen")
    _mail(
        ticket.assignee.email if ticket.assignee else settings.STEWARD_SERVICE_DESK_EMAIL,
        f"{ticket.reference} was reopened",
        f"The school reopened {ticket.reference}: {ticket.summary}\n\nRead why in Steward: "
        f"{_link(ticket, for_processor=True)}\n",
    )
    return ticket
