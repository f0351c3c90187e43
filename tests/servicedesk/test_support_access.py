"""Support access (break-glass) on real PostgreSQL: asked for by the ICT service's staff, approved or
refused by the school's admin or DPO (never another school's), lapsing unanswered after 12 hours,
ending on expiry, on revocation and when the ticket closes; the emergency path; the database's wall
(raw SQL as the app role under an ended grant sees nothing); a processor user with no grant sees no
school; what was read is audited with the grant and sent to the school when the grant ends."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.servicedesk import services, support
from steward.servicedesk.models import GrantStatus, SupportGrant, Ticket
from steward.tenancy.models import Organisation, Role, SupportWindow, User
from steward.tenancy.scope import SupportEntry, tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.ingest import builders as b
from tests.notify_fixtures import SmtpSink
from tests.servicedesk.test_copies import DESK, _records


def school_with_records() -> Organisation:
    school = factories.school("Alder Primary", services_=DESK)
    result = batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(_records())), format="csv-zip", mode="full", sent_by="test"
    )
    assert result.batch.status == "applied", result.batch.errors
    return school


@pytest.fixture
def alder(committed_db: None) -> Organisation:
    return school_with_records()


@pytest.fixture
def dpo(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")


@pytest.fixture
def sam(alder: Organisation) -> User:
    return factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")


def _db_now() -> dt.datetime:
    """The database's clock: row-level security judges a window by it, so live grants start by it."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]  # type: ignore[index,no-any-return]


def _ticket(school: Organisation, user: User, at: dt.datetime) -> Ticket:
    with tenant_scope([school.id]):
        return services.ticket_raise(
            school=school,
            raised_by=user,
            category="mis_feed",
            urgency="normal",
            summary="Attendance marks missing",
            description="Yesterday's marks did not arrive",
            actor=Actor.of_user(user),
            now=at,
        )


def _request(ticket: Ticket, user: User, at: dt.datetime, **overrides: Any) -> SupportGrant:
    terms: dict[str, Any] = {"reason": "See why the marks are missing", "scope": ["search", "learners"], **overrides}
    with tenant_scope([ticket.school_id]):
        return support.grant_request(ticket=ticket, user=user, actor=Actor.of_user(user), now=at, **terms)


def _approve(grant: SupportGrant, user: User, at: dt.datetime) -> SupportGrant:
    with tenant_scope([grant.school_id]):
        return support.grant_approve(grant=grant, user=user, actor=Actor.of_user(user), now=at)


def _fresh(grant: SupportGrant) -> SupportGrant:
    with tenant_scope([grant.school_id]):
        return SupportGrant.objects.get(pk=grant.pk)


def _learners_seen_by(grant: SupportGrant, user: User) -> list[tuple[object, ...]]:
    """Raw SQL as the app role, in the scope the tenancy middleware gives a user with this window."""
    assert connection.settings_dict["USER"] == "steward_app"
    entry = SupportEntry(window_id=grant.window_id or 0, user_id=user.pk, school_id=grant.school_id)
    with tenant_scope([], support=entry), connection.cursor() as cursor:
        cursor.execute("SELECT legal_surname FROM mis_learner ORDER BY 1")
        return cursor.fetchall()


def test_approved_the_user_reads_the_school_through_the_wall_until_it_expires(
    alder: Organisation, dpo: User, sam: User, smtp_sink: SmtpSink
) -> None:
    now = _db_now()
    grant = _request(_ticket(alder, dpo, now), sam, now)
    assert grant.status == GrantStatus.REQUESTED and grant.window_id is None
    smtp_sink.wait_for(2)  # the desk's new-ticket mail, and the school asked to decide
    assert any("asks for access to your school's data" in m.message["Subject"] for m in smtp_sink.messages)
    grant = _approve(grant, dpo, now)
    assert grant.status == GrantStatus.ACTIVE and grant.ends_at == now + dt.timedelta(hours=1)
    assert _learners_seen_by(grant, sam) == [("Marchbanks",), ("Quillfeather",)]
    # Another user naming the same window is refused by the database.
    other = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    assert _learners_seen_by(grant, other) == []
    # The window's time runs out by the database's clock: the grant's row still says active (the
    # sweep has not run) but the wall is already closed.
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE tenancy_supportwindow SET ends_at = now() - interval '1 second' WHERE id = %s", [grant.window_id]
        )
    assert _fresh(grant).status == GrantStatus.ACTIVE
    assert _learners_seen_by(grant, sam) == []
    with tenant_scope([alder.id]):
        assert support.grant_sweep(now=_db_now()) == (0, 1)
    assert _fresh(grant).status == GrantStatus.ENDED


def test_refused_no_window_opens_and_the_reason_is_kept(alder: Organisation, dpo: User, sam: User) -> None:
    now = _db_now()
    grant = _request(_ticket(alder, dpo, now), sam, now)
    with tenant_scope([alder.id]):
        with pytest.raises(ValidationError, match="refusal_reason"):
            support.grant_refuse(grant=grant, user=dpo, reason=" ", actor=Actor.of_user(dpo))
        support.grant_refuse(grant=grant, user=dpo, reason="Not in term time", actor=Actor.of_user(dpo))
    grant = _fresh(grant)
    assert grant.status == GrantStatus.REFUSED and grant.refusal_reason == "Not in term time"
    assert not SupportWindow.objects.filter(user=sam).exists()
    with tenant_scope([alder.id]), pytest.raises(ValidationError, match="already decided"):
        support.grant_approve(grant=grant, user=dpo, actor=Actor.of_user(dpo))


def test_a_refusal_is_emailed_to_who_asked_and_the_assignee(
    alder: Organisation, dpo: User, sam: User, smtp_sink: SmtpSink
) -> None:
    now = _db_now()
    ticket = _ticket(alder, dpo, now)
    priya = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="priya@ict.invalid")
    with tenant_scope([alder.id]):
        services.ticket_assign(ticket=ticket, assignee=priya, actor=Actor.of_user(priya))
    grant = _request(ticket, sam, now)
    smtp_sink.wait_for(2)  # the desk's new-ticket mail, and the school asked to decide
    smtp_sink.clear()
    with tenant_scope([alder.id]):
        support.grant_refuse(grant=grant, user=dpo, reason="Not in term time", actor=Actor.of_user(dpo), now=now)
    mails = smtp_sink.wait_for(2)
    assert sorted(r for m in mails for r in m.rcpt_tos) == ["priya@ict.invalid", "sam@ict.invalid"]
    for mail in mails:
        assert mail.message["Subject"] == f"{ticket.reference}: the school refused support access"
        assert f"refused {grant.reference}" in mail.body and "Their reason: Not in term time" in mail.body


def test_an_unanswered_request_lapses_after_12_hours(alder: Organisation, dpo: User, sam: User) -> None:
    asked = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    grant = _request(_ticket(alder, dpo, asked), sam, asked)
    with time_machine.travel(asked + dt.timedelta(hours=11, minutes=59), tick=False), tenant_scope([alder.id]):
        assert support.grant_sweep() == (0, 0)
    late = asked + dt.timedelta(hours=12)
    with tenant_scope([alder.id]), pytest.raises(ValidationError, match="not answered within 12 hours"):
        support.grant_approve(grant=grant, user=dpo, actor=Actor.of_user(dpo), now=late)
    with time_machine.travel(late, tick=False), tenant_scope([alder.id]):
        assert support.grant_sweep() == (1, 0)
    assert _fresh(grant).status == GrantStatus.EXPIRED


def test_the_grant_ends_at_its_time_and_the_school_gets_the_list_of_reads(
    alder: Organisation, dpo: User, sam: User, smtp_sink: SmtpSink
) -> None:
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    grant = _approve(_request(_ticket(alder, dpo, start), sam, start, duration_minutes=30), dpo, start)
    with tenant_scope([alder.id]):
        assert support.grant_sweep(now=start + dt.timedelta(minutes=29)) == (0, 0)
        assert support.grant_sweep(now=start + dt.timedelta(minutes=30)) == (0, 1)
    grant = _fresh(grant)
    assert grant.status == GrantStatus.ENDED and grant.ended_because == "its time ran out"
    assert SupportWindow.objects.get(pk=grant.window_id).closed_at == start + dt.timedelta(minutes=30)
    smtp_sink.wait_for(3)  # the new ticket, the request to the school, and the list of reads
    ended = [m for m in smtp_sink.messages if "has ended: what the ICT service read" in m.message["Subject"]]
    assert ended and "Nothing was read." in ended[0].message.get_payload()


def test_the_school_revokes_and_the_wall_closes(alder: Organisation, dpo: User, sam: User) -> None:
    now = _db_now()
    grant = _approve(_request(_ticket(alder, dpo, now), sam, now), dpo, now)
    assert len(_learners_seen_by(grant, sam)) == 2
    with tenant_scope([alder.id]):
        support.grant_revoke(grant=grant, user=dpo, actor=Actor.of_user(dpo))
    assert _fresh(grant).status == GrantStatus.REVOKED
    assert _learners_seen_by(grant, sam) == []


def test_a_second_approval_opens_nothing_and_revoking_closes_every_window_of_the_grant(
    alder: Organisation, dpo: User, sam: User
) -> None:
    now = _db_now()
    asked = _request(_ticket(alder, dpo, now), sam, now)
    stale = _fresh(asked)  # what a second click, loaded before the first approval, would hold
    grant = _approve(asked, dpo, now)
    assert stale.status == GrantStatus.REQUESTED
    with pytest.raises(ValidationError, match="already decided"):
        _approve(stale, dpo, now)  # the lock re-reads it
    assert SupportWindow.objects.filter(grant_reference=grant.reference).count() == 1
    # A window left by a race before the lock (same grant reference, not the linked one) closes too.
    stray = SupportWindow.objects.create(
        school_id=alder.id, user=sam, grant_reference=grant.reference, starts_at=now, ends_at=grant.ends_at
    )
    with tenant_scope([alder.id]):
        support.grant_revoke(grant=stale, user=dpo, actor=Actor.of_user(dpo))
    stray.refresh_from_db()
    assert stray.closed_at is not None
    assert SupportWindow.objects.filter(grant_reference=grant.reference, closed_at__isnull=True).count() == 0


def test_closing_the_ticket_ends_its_grants_and_lapses_its_requests(alder: Organisation, dpo: User, sam: User) -> None:
    now = _db_now()
    ticket = _ticket(alder, dpo, now)
    live = _approve(_request(ticket, sam, now), dpo, now)
    pending = _request(ticket, sam, now)
    with tenant_scope([alder.id]):
        services.ticket_close(ticket=Ticket.objects.get(pk=ticket.pk), actor=Actor.of_user(sam))
    assert _fresh(live).status == GrantStatus.ENDED and _fresh(live).ended_because == "the ticket closed"
    assert _fresh(pending).status == GrantStatus.EXPIRED
    assert _learners_seen_by(live, sam) == []


def test_an_emergency_starts_at_once_the_school_is_told_and_confirms(
    alder: Organisation, dpo: User, sam: User, smtp_sink: SmtpSink
) -> None:
    now = _db_now()
    ticket = _ticket(alder, dpo, now)
    terms: dict[str, Any] = {"reason": "Marks being overwritten", "scope": ["learners"], "now": now}
    with tenant_scope([alder.id]):
        with pytest.raises(PermissionError, match="not a processor administrator"):
            support.grant_emergency(
                ticket=ticket, user=sam, incident_category="data_corruption", actor=Actor.of_user(sam), **terms
            )
        with pytest.raises(ValidationError, match="incident_category"):
            support.grant_emergency(
                ticket=ticket, user=sam, incident_category="hunch", actor=Actor.of_user(sam), **terms
            )
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="pat@ict.invalid")
    with tenant_scope([alder.id]):
        grant = support.grant_emergency(
            ticket=ticket, user=admin, incident_category="data_corruption", actor=Actor.of_user(admin), **terms
        )
    assert grant.status == GrantStatus.ACTIVE and grant.emergency_category == "data_corruption"
    assert len(_learners_seen_by(grant, admin)) == 2
    smtp_sink.wait_for(2)
    assert any("emergency access to your school's data has started" in m.message["Subject"] for m in smtp_sink.messages)
    with tenant_scope([alder.id]):
        support.grant_confirm(grant=grant, user=dpo, actor=Actor.of_user(dpo))
        with pytest.raises(ValidationError, match="not an emergency grant awaiting confirmation"):
            support.grant_confirm(grant=grant, user=dpo, actor=Actor.of_user(dpo))
    assert _fresh(grant).confirmed_at is not None


def test_another_schools_admin_cannot_approve(alder: Organisation, dpo: User, sam: User) -> None:
    now = _db_now()
    grant = _request(_ticket(alder, dpo, now), sam, now)
    birch = factories.school("Birch Primary", services_=DESK)
    intruder = factories.user(Role.SCHOOL_ADMIN, birch)
    with tenant_scope([alder.id]), pytest.raises(PermissionError, match="not an administrator or DPO"):
        support.grant_approve(grant=grant, user=intruder, actor=Actor.of_user(intruder))
    # Nor does the grant exist in their own school's scope.
    with tenant_scope([birch.id]):
        assert not SupportGrant.objects.filter(pk=grant.pk).exists()
    assert _fresh(grant).status == GrantStatus.REQUESTED


def test_a_request_is_checked(alder: Organisation, dpo: User, sam: User) -> None:
    now = _db_now()
    ticket = _ticket(alder, dpo, now)
    with pytest.raises(ValidationError) as error:
        _request(ticket, sam, now, reason="", scope=["nonsense"], duration_minutes=9 * 60)
    assert set(error.value.message_dict) == {"reason", "scope", "duration_minutes"}
    with pytest.raises(ValidationError, match="not the ICT service's staff"):
        _request(ticket, dpo, now)
    with tenant_scope([alder.id]):
        assert not SupportGrant.objects.exists()


def test_in_the_back_office_reads_are_audited_with_the_grant_and_nothing_without_one(
    alder: Organisation, dpo: User, sam: User
) -> None:
    client = Client()
    sign_in(client, sam)
    # No grant: the processor's search shows schools, never a pupil.
    response = client.get("/search/", {"q": "Quillfeather"})
    assert response.status_code == 200 and b"Zebedee" not in response.content
    now = _db_now()
    grant = _approve(_request(_ticket(alder, dpo, now), sam, now), dpo, now)
    response = client.get("/search/", {"q": "Quillfeather"})
    assert response.status_code == 200 and b"Zebedee" in response.content
    assert grant.reference.encode() in response.content  # the banner
    with tenant_scope([alder.id]):
        reads = support.grant_reads(grant)
    # A contact is named Quillfeather too, but the grant names learners only: one search event, of learners.
    assert [(e.action, e.object_type) for e in reads] == [("search", "mis.Learner")]
    with tenant_scope([alder.id]):
        support.grant_revoke(grant=grant, user=dpo, actor=Actor.of_user(dpo))
    response = client.get("/search/", {"q": "Quillfeather"})
    assert b"Zebedee" not in response.content


def test_the_scheduled_sweep_records_the_end_and_sends_the_read_list(
    alder: Organisation, dpo: User, sam: User, smtp_sink: SmtpSink
) -> None:
    from steward.servicedesk.tasks import support_access_sweep

    start = _db_now() - dt.timedelta(hours=2)
    grant = _approve(_request(_ticket(alder, dpo, start), sam, start), dpo, start)
    stale = _request(_ticket(alder, dpo, start - dt.timedelta(hours=11)), sam, start - dt.timedelta(hours=11))
    assert support_access_sweep.call() == [1, 1]
    assert _fresh(grant).status == GrantStatus.ENDED and _fresh(stale).status == GrantStatus.EXPIRED
    smtp_sink.wait_for(5)
    assert any(f"{grant.reference} has ended" in m.message["Subject"] for m in smtp_sink.messages)
