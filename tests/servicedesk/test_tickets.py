"""Tickets end to end through the back office: raised by a school (with a validation error on the
way), answered, resolved, reopened and closed by the processor's staff, with the emails each side
gets (a real SMTP sink), every state change in the history and the audit log, and the wall between
schools (the page, a guessed id, and row-level security in raw SQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.servicedesk import services
from steward.servicedesk.models import Status, Ticket, TicketEvent, TicketMessage
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.notify_fixtures import SmtpSink

# Monday 30 November 2026, 10:00 in London (GMT): a working day.
MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(MONDAY)]
DESK = ("hosted_mis", "service_desk")


@pytest.fixture
def alder() -> Organisation:
    return factories.school("Alder Primary", services_=DESK)


@pytest.fixture
def birch() -> Organisation:
    return factories.school("Birch Academy", services_=DESK)


@pytest.fixture
def school_admin(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, alder, email="office@alder.invalid")


@pytest.fixture
def support() -> User:
    return factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")


@pytest.fixture
def school(client: Client, school_admin: User, alder: Organisation) -> Client:
    sign_in(client, school_admin)
    choose(client, alder)
    return client


@pytest.fixture
def desk(support: User) -> Client:
    client = Client()
    sign_in(client, support)
    return client


def every_ticket() -> list[Ticket]:
    with estate_scope():
        return list(Ticket.objects.order_by("id"))


def again(ticket: Ticket) -> Ticket:
    with estate_scope():
        fresh: Ticket = Ticket.objects.get(pk=ticket.pk)
        return fresh


def raise_ticket(school: Organisation, by: User, summary: str = "Upload rejected", **kw: Any) -> Ticket:
    with tenant_scope([school.id]):
        return services.ticket_raise(
            school=school,
            raised_by=by,
            category=kw.get("category", "mis_feed"),
            urgency=kw.get("urgency", "normal"),
            summary=summary,
            description=kw.get("description", "Last night's upload was rejected"),
            actor=Actor.of_user(by, organisation_id=school.id),
            now=kw.get("now"),
        )


def test_a_school_raises_a_ticket_the_desk_answers_and_resolves_and_each_side_is_emailed(
    school: Client,
    desk: Client,
    smtp_sink: SmtpSink,
    support: User,
    school_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # One mistake on the way: no summary. Nothing is recorded and the field says why.
    form = {"category": "mis_feed", "urgency": "high", "summary": "", "description": "The upload at 02:00 failed"}
    response = school.post("/school/service-desk/new/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "<title>Error: " in page and "Enter a summary" in page and 'href="#id_summary"' in page
    assert not every_ticket()

    with django_capture_on_commit_callbacks(execute=True):
        response = school.post("/school/service-desk/new/", {**form, "summary": "Nightly upload rejected"})
    assert response.status_code == 302
    [ticket] = every_ticket()
    assert response["Location"] == f"/school/service-desk/{ticket.pk}/"
    assert (ticket.status, ticket.urgency, ticket.raised_by_label) == ("new", "high", str(school_admin))
    # High urgency for an MIS feed: first response within 2 working hours, i.e. 12:00 today.
    assert ticket.first_response_due - ticket.created_at == dt.timedelta(hours=2)
    [new] = smtp_sink.messages
    assert new.rcpt_tos == ["service-desk@steward.invalid"]
    assert f"RFA-{ticket.pk}" in new.message["Subject"] and "Nightly upload rejected" in new.body
    assert "02:00" not in new.body  # the description stays behind sign-in

    # The queue shows it; the desk replies (the first response) and the raiser is emailed.
    assert "Nightly upload rejected" in desk.get("/processor/service-desk/").content.decode()
    smtp_sink.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(
            f"/processor/service-desk/{ticket.pk}/", {"action": "reply", "body": "We are looking at the feed now."}
        )
    assert response.status_code == 302
    [told] = smtp_sink.messages
    assert told.rcpt_tos == ["office@alder.invalid"] and "We are looking" not in told.body
    ticket = again(ticket)
    assert ticket.status == "in_progress" and ticket.first_responded_at is not None

    # The school sees the reply and answers; nobody is assigned, so the desk's address hears of it.
    page = school.get(f"/school/service-desk/{ticket.pk}/").content.decode()
    assert "We are looking at the feed now." in page and "ICT service" in page
    smtp_sink.clear()
    with django_capture_on_commit_callbacks(execute=True):
        school.post(f"/school/service-desk/{ticket.pk}/", {"action": "reply", "body": "Thank you"})
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["service-desk@steward.invalid"]]

    # Triage, assign and resolve; the raiser is told it is resolved.
    assert (
        desk.post(
            f"/processor/service-desk/{ticket.pk}/", {"action": "triage", "category": "mis_feed", "urgency": "critical"}
        ).status_code
        == 302
    )
    assert (
        desk.post(f"/processor/service-desk/{ticket.pk}/", {"action": "assign", "assignee": support.pk}).status_code
        == 302
    )
    response = desk.post(f"/processor/service-desk/{ticket.pk}/", {"action": "resolve", "note": ""})
    assert response.status_code == 400 and "Enter what was done to resolve it" in response.content.decode()
    smtp_sink.clear()
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(f"/processor/service-desk/{ticket.pk}/", {"action": "resolve", "note": "The feed's key was renewed"})
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["office@alder.invalid"]]
    assert "resolved" in smtp_sink.messages[0].message["Subject"]

    ticket = again(ticket)
    assert (ticket.status, ticket.urgency, ticket.assignee_id) == ("resolved", "critical", support.pk)
    with estate_scope():
        history = list(TicketEvent.objects.filter(ticket=ticket).values_list("action", "from_value", "to_value"))
    assert history == [
        ("raised", "", "New"),
        ("status", "New", "In progress"),
        ("urgency", "High", "Critical"),
        ("assigned", "Nobody", str(support)),
        ("status", "In progress", "Resolved"),
    ]
    with processor_scope():
        actions = set(AuditEvent.objects.filter(object_type="servicedesk.Ticket").values_list("action", flat=True))
    assert {"ticket_raise", "ticket_reply", "ticket_triage", "ticket_assign", "ticket_resolve"} <= actions


def test_the_school_reopens_within_fourteen_days_but_not_after_and_a_closed_ticket_stays_closed(
    school: Client, desk: Client, alder: Organisation, school_admin: User
) -> None:
    long_ago = MONDAY - dt.timedelta(days=16)
    old = raise_ticket(alder, school_admin, now=long_ago)
    ticket = raise_ticket(alder, school_admin)
    with tenant_scope([alder.id]):
        services.ticket_resolve(ticket=old, note="Fixed", actor=Actor.system("desk"), now=long_ago)
        services.ticket_resolve(ticket=ticket, note="Fixed", actor=Actor.system("desk"))
    response = school.post(f"/school/service-desk/{old.pk}/", {"action": "reopen", "reason": "Still failing"})
    assert response.status_code == 400 and "more than 14 days ago" in response.content.decode()
    assert again(old).status == Status.RESOLVED
    url = f"/school/service-desk/{ticket.pk}/"
    response = school.post(url, {"action": "reopen", "reason": "Still failing"})
    assert response.status_code == 302
    ticket = again(ticket)
    assert ticket.status == Status.IN_PROGRESS and ticket.resolved_at is None

    # Closing asks first; only "yes" closes, and then nobody can reopen or reply.
    page = desk.get(f"/processor/service-desk/{ticket.pk}/close/").content.decode()
    assert "cannot be reopened" in page
    assert desk.post(f"/processor/service-desk/{ticket.pk}/close/", {"confirm": "yes"}).status_code == 302
    ticket = again(ticket)
    assert ticket.status == Status.CLOSED
    response = school.post(url, {"action": "reply", "body": "Hello?"})
    assert response.status_code == 400 and "is closed" in response.content.decode()
    with tenant_scope([alder.id]), pytest.raises(Exception, match="Only a resolved ticket"):
        services.ticket_reopen(ticket=ticket, reason="again", actor=Actor.system("school"))


def test_a_school_never_sees_another_schools_ticket_by_page_guessed_id_or_sql(
    school: Client, alder: Organisation, birch: Organisation
) -> None:
    theirs = raise_ticket(birch, factories.user(Role.SCHOOL_DPO, birch), summary="Birch private trouble")
    ours = raise_ticket(alder, factories.user(Role.SCHOOL_DPO, alder), summary="Alder own trouble")
    listing = school.get("/school/service-desk/").content.decode()
    assert "Alder own trouble" in listing and "Birch" not in listing
    for guessed in (theirs.pk, theirs.pk + 100):
        assert school.get(f"/school/service-desk/{guessed}/").status_code == 404
        response = school.post(f"/school/service-desk/{guessed}/", {"action": "reply", "body": "sneaky"})
        assert response.status_code == 404
    with estate_scope():
        assert not TicketMessage.objects.filter(ticket_id=theirs.pk).exists()
    # Row-level security: in Alder's scope, raw SQL as the app role finds only Alder's ticket.
    with tenant_scope([alder.id]), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM servicedesk_ticket")
        assert [r[0] for r in cursor.fetchall()] == [ours.pk]
        cursor.execute("SELECT count(*) FROM servicedesk_ticketevent WHERE ticket_id = %s", [theirs.pk])
        assert cursor.fetchone() == (0,)
    # And a school's staff cannot open the processor's queue.
    assert school.get("/processor/service-desk/").status_code == 403


def test_the_queue_filters_shows_breaches_and_reads_a_page_in_a_fixed_number_of_queries(
    desk: Client, alder: Organisation, birch: Organisation, support: User
) -> None:
    a_user, b_user = factories.user(Role.SCHOOL_ADMIN, alder), factories.user(Role.SCHOOL_ADMIN, birch)
    # Raised last Monday at 10:00 with critical urgency: 8 working hours to resolve, long past.
    late = raise_ticket(
        alder,
        a_user,
        summary="Portal down",
        category="parent_portal",
        urgency="critical",
        now=MONDAY - dt.timedelta(days=7),
    )
    fresh = raise_ticket(birch, b_user, summary="Sharing question", category="data_sharing", urgency="low")
    with tenant_scope([birch.id]):
        services.ticket_assign(ticket=fresh, assignee=support, actor=Actor.system("desk"))
    for n in range(6):
        raise_ticket(birch, b_user, summary=f"Another request {n}", description="password reset loop")

    page = desk.get("/processor/service-desk/").content.decode()
    assert page.index("Portal down") < page.index("Sharing question")  # breached first
    assert "Past its target" in page or "No response in time" in page

    def shown(query: str) -> str:
        response = desk.get(f"/processor/service-desk/?{query}")
        assert response.status_code == 200
        return response.content.decode()

    assert "Sharing question" not in shown("breached=yes") and "Portal down" in shown("breached=yes")
    assert "Portal down" not in shown(f"school={birch.pk}") and "Sharing question" in shown(f"school={birch.pk}")
    assert "Portal down" not in shown(f"assignee={support.pk}") and "Sharing question" in shown(
        f"assignee={support.pk}"
    )
    assert "Sharing question" not in shown("assignee=none")
    assert "Another request 3" in shown("text=password+reset") and "Portal down" not in shown("text=password+reset")
    assert "Portal down" not in shown("status=in_progress")
    bad = desk.get("/processor/service-desk/?status=lost")
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()

    # The page's queries do not grow with its rows: 2 tickets or 8 tickets cost the same.
    with CaptureQueriesContext(connection) as few:
        desk.get(f"/processor/service-desk/?school={alder.pk}")
    with CaptureQueriesContext(connection) as many:
        desk.get("/processor/service-desk/")
    assert len(many) == len(few)
    assert late.pk and fresh.pk


def test_refusals_name_the_field_and_change_nothing(alder: Organisation, school_admin: User) -> None:
    with tenant_scope([alder.id]):
        with pytest.raises(ValidationError) as refused:
            services.ticket_raise(
                school=alder,
                raised_by=school_admin,
                category="weather",
                urgency="whenever",
                summary=" ",
                description="x" * 10_001,
                actor=Actor.of_user(school_admin),
            )
        assert set(refused.value.message_dict) == {"category", "urgency", "summary", "description"}
        assert not Ticket.objects.exists()
        ticket = raise_ticket(alder, school_admin)
        other_school_user = factories.user(Role.SCHOOL_ADMIN, alder)
        with pytest.raises(ValidationError, match="ICT service's staff"):
            services.ticket_assign(ticket=ticket, assignee=other_school_user, actor=Actor.system("desk"))
        ticket.refresh_from_db()
        assert ticket.assignee_id is None


def test_a_school_whose_contract_has_no_service_desk_cannot_raise_a_ticket(client: Client) -> None:
    """The register lists the service desk's processing only for schools that contract it."""
    elm = factories.school("Elm Infants", services_=("hosted_mis",))
    admin = factories.user(Role.SCHOOL_ADMIN, elm)
    sign_in(client, admin)
    choose(client, elm)
    listing = client.get("/school/service-desk/").content.decode()
    assert "does not include the service desk" in listing and "Ask for help" not in listing
    form = {"category": "other", "urgency": "low", "summary": "Hello", "description": "A question"}
    response = client.post("/school/service-desk/new/", form)
    assert response.status_code == 400 and "does not include the service desk" in response.content.decode()
    assert not every_ticket()
