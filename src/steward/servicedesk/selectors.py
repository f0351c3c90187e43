"""Reading tickets: a school's own (in its scope), and the processor's queue across schools.

The queue is the one place tickets of every school are read together, so it opens
`estate_scope` itself (refused inside a school's scope) and reads each page in one statement plus
the count: the school and assignee come by join, and whether each ticket is past a service level is
computed in SQL, so the page needs no query per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from steward.core.listing import page_of
from steward.servicedesk.models import (
    OPEN_STATUSES,
    GrantStatus,
    InvestigationCopy,
    SupportGrant,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketMessage,
)
from steward.tenancy.models import PROCESSOR_ROLES, Organisation, User
from steward.tenancy.scope import estate_scope
from steward.tenancy.selectors import contracted_services


def breached_q(now: dt.datetime) -> Q:
    """An open ticket past its first-response target without a response, or past its resolution target."""
    open_ = Q(status__in=OPEN_STATUSES)
    return open_ & (
        Q(first_responded_at__isnull=True, first_response_due__lt=now)
        | Q(resolved_at__isnull=True, resolution_due__lt=now)
    )


def _with_breach(rows: QuerySet[Ticket], now: dt.datetime) -> QuerySet[Ticket]:
    return rows.annotate(
        breached=ExpressionWrapper(breached_q(now), output_field=BooleanField()),
        first_response_late=ExpressionWrapper(
            Q(status__in=OPEN_STATUSES, first_responded_at__isnull=True, first_response_due__lt=now),
            output_field=BooleanField(),
        ),
    )


@dataclass(frozen=True)
class QueueFilter:
    school: int | None = None
    status: str = ""
    assignee: str = ""  # a user id, "none" for unassigned, "" for anyone
    breached: bool = False
    text: str = ""


def school_tickets_page(*, page: str | int | None) -> Page[Ticket]:
    """The school's tickets, newest first (inside the school's scope)."""
    return page_of(Ticket.objects.select_related("assignee").order_by("-created_at", "-id"), page)


def school_ticket(*, ticket_id: int) -> Ticket | None:
    """One ticket of the school in scope, or None: another school's id finds nothing."""
    return Ticket.objects.select_related("assignee").filter(pk=ticket_id).first()


def thread(*, ticket: Ticket) -> tuple[list[TicketMessage], list[TicketEvent]]:
    """The ticket's messages and state changes, oldest first (in a scope holding its school)."""
    return (
        list(TicketMessage.objects.filter(ticket=ticket, school_id=ticket.school_id).order_by("at", "id")),
        list(TicketEvent.objects.filter(ticket=ticket, school_id=ticket.school_id).order_by("at", "id")),
    )


def queue_page(*, where: QueueFilter, page: str | int | None, now: dt.datetime | None = None) -> Page[Ticket]:
    """The processor's queue across schools: open tickets first, breached ones at the top."""
    moment = now or timezone.now()
    with estate_scope():
        rows = _with_breach(Ticket.objects.select_related("school", "assignee"), moment)
        if where.school:
            rows = rows.filter(school_id=where.school)
        if where.status:
            rows = rows.filter(status=where.status)
        if where.assignee == "none":
            rows = rows.filter(assignee__isnull=True)
        elif where.assignee:
            rows = rows.filter(assignee_id=int(where.assignee))
        if where.breached:
            rows = rows.filter(breached_q(moment))
        if where.text:
            rows = rows.filter(Q(summary__icontains=where.text) | Q(description__icontains=where.text))
        return page_of(rows.order_by(F("breached").desc(), "resolution_due", "id"), page)


def processor_ticket(*, ticket_id: int, now: dt.datetime | None = None) -> Ticket | None:
    """Any school's ticket, for the processor's staff (read under `estate_scope`)."""
    with estate_scope():
        return (
            _with_breach(Ticket.objects.select_related("school", "assignee"), now or timezone.now())
            .filter(pk=ticket_id)
            .first()
        )


def processor_thread(*, ticket: Ticket) -> tuple[list[TicketMessage], list[TicketEvent]]:
    with estate_scope():
        return thread(ticket=ticket)


def processor_staff() -> list[User]:
    """Who a ticket may be assigned to: active members of the processor's staff."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organisation__kind=Organisation.Kind.PROCESSOR,
            memberships__role__in=PROCESSOR_ROLES,
            memberships__restricted_at__isnull=True,
        )
        .distinct()
        .order_by("full_name", "email")
    )


def contracted(*, school_id: int) -> bool:
    """Whether the school's contracts include the service desk (only then may its staff raise a ticket)."""
    return "service_desk" in contracted_services(school_id=school_id)


def schools() -> list[Organisation]:
    """The schools the queue can be filtered by."""
    return list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("name"))


def ticket_copies(*, ticket: Ticket) -> list[InvestigationCopy]:
    """The investigation copies asked for on a ticket, oldest first (in a scope holding its school)."""
    return list(InvestigationCopy.objects.filter(ticket=ticket, school_id=ticket.school_id).order_by("id"))


def processor_ticket_copies(*, ticket: Ticket) -> list[InvestigationCopy]:
    with estate_scope():
        return ticket_copies(ticket=ticket)


def school_copy(*, ticket_id: int, copy_id: int) -> InvestigationCopy | None:
    """One copy of the school in scope, on the named ticket, or None: another school's finds nothing."""
    found: InvestigationCopy | None = (
        InvestigationCopy.objects.select_related("ticket").filter(pk=copy_id, ticket_id=ticket_id).first()
    )
    return found


def support_grant_banner(reference: str, school_id: int | None) -> SupportGrant | None:
    """The live grant a request runs under (its reference, from the tenancy middleware), for the
    banner every page shows: who, why, until when. Inside the request's scope."""
    if not reference or school_id is None or not reference.startswith("GRANT-"):
        return None
    pk = reference.removeprefix("GRANT-")
    if not pk.isdigit():
        return None
    return SupportGrant.objects.filter(pk=int(pk), school_id=school_id, status=GrantStatus.ACTIVE).first()


def school_grants() -> list[SupportGrant]:
    """Every support-access grant of the school in scope, newest first (the school's page of them)."""
    return list(SupportGrant.objects.order_by("-requested_at", "-id"))


def school_grant(*, grant_id: int) -> SupportGrant | None:
    """One grant of the school in scope, or None: another school's finds nothing."""
    found: SupportGrant | None = SupportGrant.objects.select_related("ticket").filter(pk=grant_id).first()
    return found


def processor_ticket_grants(*, ticket: Ticket) -> list[SupportGrant]:
    with estate_scope():
        return list(SupportGrant.objects.filter(ticket=ticket).order_by("-id"))


def ticket_attachments(*, ticket: Ticket) -> list[TicketAttachment]:
    """The ticket's files, oldest first, with the reply each came with (in a scope holding its school)."""
    return list(
        TicketAttachment.objects.select_related("message")
        .filter(ticket=ticket, school_id=ticket.school_id)
        .order_by("uploaded_at", "id")
    )


def processor_ticket_attachments(*, ticket: Ticket) -> list[TicketAttachment]:
    with estate_scope():
        return ticket_attachments(ticket=ticket)


def school_attachment(*, ticket_id: int, attachment_id: int) -> TicketAttachment | None:
    """One file of the school in scope, on the named ticket, or None: another school's finds nothing."""
    found: TicketAttachment | None = (
        TicketAttachment.objects.select_related("ticket").filter(pk=attachment_id, ticket_id=ticket_id).first()
    )
    return found


def processor_attachment(*, ticket_id: int, attachment_id: int) -> TicketAttachment | None:
    with estate_scope():
        found: TicketAttachment | None = TicketAttachment.objects.filter(pk=attachment_id, ticket_id=ticket_id).first()
        return found
