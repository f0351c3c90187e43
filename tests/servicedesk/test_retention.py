"""The service desk's retention rule: a ticket and its thread go 90 days after it was resolved, not
before; a reopened ticket is not due; a whole-school legal hold keeps everything; the sweep deletes
what the preview counted and leaves a proof."""

from __future__ import annotations

import datetime as dt

import pytest

from steward.audit.actor import Actor
from steward.retention.selectors import retention_preview
from steward.retention.services import hold_place, retention_sweep
from steward.servicedesk import services
from steward.servicedesk.models import Ticket, TicketEvent, TicketMessage
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories

TODAY = dt.date(2026, 11, 30)
pytestmark = pytest.mark.django_db


def _ticket(school: Organisation, *, resolved_days_ago: int | None, reopened: bool = False) -> Ticket:
    user = factories.user(Role.SCHOOL_ADMIN, school)
    at = dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC) - dt.timedelta(days=resolved_days_ago or 0)
    actor = Actor.of_user(user)
    with tenant_scope([school.id]):
        ticket = services.ticket_raise(
            school=school,
            raised_by=user,
            category="other",
            urgency="low",
            summary=f"resolved {resolved_days_ago} days ago",
            description="A question",
            actor=actor,
            now=at - dt.timedelta(days=1),
        )
        services.ticket_reply(ticket=ticket, author=user, body="More", from_processor=False, actor=actor, now=at)
        if resolved_days_ago is not None:
            services.ticket_resolve(ticket=ticket, note="Answered", actor=actor, now=at)
        if reopened:
            services.ticket_reopen(ticket=ticket, reason="Not yet", actor=actor, now=at + dt.timedelta(days=1))
    return ticket


def test_tickets_resolved_more_than_90_days_ago_go_with_their_thread_and_the_rest_stay() -> None:
    school = factories.school("Alder Primary", services_=("hosted_mis", "service_desk"))
    old = _ticket(school, resolved_days_ago=91)
    recent = _ticket(school, resolved_days_ago=89)
    still_open = _ticket(school, resolved_days_ago=None)
    reopened = _ticket(school, resolved_days_ago=120, reopened=True)
    due = {d.what: d.rows for d in retention_preview(today=TODAY, schools=[school])}
    assert due["service desk tickets"] == 1
    proofs = retention_sweep(today=TODAY, schools=[school], processor_wide=False)
    assert [(p.what, p.rows) for p in proofs if p.what == "service desk tickets"] == [("service desk tickets", 1)]
    with tenant_scope([school.id]):
        assert set(Ticket.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk, reopened.pk}
        assert not TicketMessage.objects.filter(ticket_id=old.pk).exists()
        assert not TicketEvent.objects.filter(ticket_id=old.pk).exists()


def test_a_whole_school_legal_hold_keeps_resolved_tickets() -> None:
    school = factories.school("Birch Academy", services_=("hosted_mis", "service_desk"))
    old = _ticket(school, resolved_days_ago=200)
    hold_place(school=school, reason="Tribunal claim", placed_by="DPO")
    retention_sweep(today=TODAY, schools=[school], processor_wide=False)
    with tenant_scope([school.id]):
        assert Ticket.objects.filter(pk=old.pk).exists()


def test_a_ticket_with_a_support_access_grant_goes_and_the_grant_keeps_its_reference() -> None:
    """The grant is the school's record of who entered its data: it outlives the ticket (like a copy)."""
    from steward.servicedesk import support
    from steward.servicedesk.models import SupportGrant

    school = factories.school("Cedar School", services_=("hosted_mis", "service_desk"))
    old = _ticket(school, resolved_days_ago=None)
    at = dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC) - dt.timedelta(days=120)
    with tenant_scope([school.id]):
        grant = support.grant_request(
            ticket=old,
            user=factories.user(Role.PROCESSOR_SUPPORT, factories.processor()),
            reason="See the rejected rows",
            scope=["learners"],
            actor=Actor.system("ICT service"),
            now=at,
        )
        services.ticket_resolve(ticket=old, note="Answered", actor=Actor.system("Desk"), now=at)
    retention_sweep(today=TODAY, schools=[school], processor_wide=False)
    with tenant_scope([school.id]):
        assert not Ticket.objects.filter(pk=old.pk).exists()
        kept = SupportGrant.objects.get(pk=grant.pk)
        assert kept.ticket_id is None and kept.ticket_reference == f"RFA-{old.pk}"
