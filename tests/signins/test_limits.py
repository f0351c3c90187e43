"""Session limits, with the clock set by time-machine: staff end after 30 minutes without a request,
parents after 60 (both configurable), everyone 12 hours after signing in however busy; the last
activity is written at most once a minute; a password reset, an authenticator reset and turning
two-factor off end the person's other sessions."""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django_otp.oath import TOTP
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount
from steward.signins.models import EndReason, ParentSession, StaffSession
from steward.tenancy.models import Role, User
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.notify_fixtures import SmtpSink
from tests.portal import families as f
from tests.signins.conftest import at, browser, parent_browser, staff_browser

pytestmark = pytest.mark.django_db


def _get(client: Client, url: str, minutes: float) -> Any:
    with time_machine.travel(at(minutes), tick=False):
        return client.get(url)


def _staff_in(client: Client, minutes: float) -> bool:
    return bool(_get(client, "/account/sessions/", minutes).status_code == 200)


def _parent_in(client: Client, minutes: float) -> bool:
    return bool(_get(client, "/portal/", minutes).status_code == 200)


def test_staff_are_signed_out_after_30_minutes_without_a_request(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    assert _staff_in(client, 29)  # a near miss: 29 minutes of quiet is fine, and counts as activity
    assert _staff_in(client, 29 + 30)  # 30 minutes since the last request: still in
    response = _get(client, "/account/sessions/", 29 + 30 + 31)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    row = StaffSession.objects.get(user=dpo_a)
    assert row.ended_why == EndReason.IDLE and row.ended_at is not None
    with processor_scope():
        [event] = AuditEvent.objects.filter(action="session_expired")
    assert event.detail == {"why": "idle"} and event.object_ids == [f"staff:{row.pk}"]


def test_a_browser_that_never_comes_back_drops_off_the_list_at_the_idle_limit(dpo_a: User) -> None:
    staff_browser(dpo_a, at(0))  # closed and never used again: its row is never ended by a request
    own = staff_browser(dpo_a, at(2), agent="")
    page = _get(own, "/account/sessions/", 30).content.decode()
    assert "Chrome on Windows" in page  # 30 minutes since the first browser's sign-in: still live
    page = _get(own, "/account/sessions/", 31).content.decode()
    assert "Chrome on Windows" not in page and "Unknown device" in page


def test_the_idle_limit_is_configurable(dpo_a: User, settings: SettingsWrapper) -> None:
    settings.STEWARD_SESSION_IDLE_STAFF = 5 * 60
    client = staff_browser(dpo_a, at(0))
    assert _staff_in(client, 4)
    assert not _staff_in(client, 4 + 6)


def test_parents_are_signed_out_after_60_minutes_without_a_request() -> None:
    alex = f.registered_parent(f.family_school("Alder Primary"), "C1")
    client = parent_browser(alex, at(0))
    assert _parent_in(client, 59)
    response = _get(client, "/portal/", 59 + 61)
    assert response.status_code == 302 and response["Location"].startswith("/portal/sign-in/")
    assert ParentSession.objects.get(parent_id=alex.pk).ended_why == EndReason.IDLE


def test_every_session_ends_12_hours_after_signing_in_however_busy(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    for minutes in range(20, 12 * 60, 20):
        assert _staff_in(client, minutes), minutes  # active every 20 minutes up to 11 h 40
    assert _staff_in(client, 12 * 60)  # exactly 12 hours: still in
    assert not _staff_in(client, 12 * 60 + 1)
    assert StaffSession.objects.get(user=dpo_a).ended_why == EndReason.ABSOLUTE


def test_last_activity_is_written_at_most_once_a_minute(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    row = StaffSession.objects.get(user=dpo_a)
    _get(client, "/account/sessions/", 0.5)
    row.refresh_from_db()
    assert row.last_seen_at == at(0)
    _get(client, "/account/sessions/", 1.5)
    row.refresh_from_db()
    assert row.last_seen_at == at(1.5)


def test_a_session_ended_without_its_django_row_going_is_signed_out_at_the_next_minute(dpo_a: User) -> None:
    """The second wall: were the Django session row ever left behind, the once-a-minute write sees the
    record ended and signs the browser out."""
    client = staff_browser(dpo_a, at(0))
    StaffSession.objects.filter(user=dpo_a).update(ended_at=at(1), ended_why=EndReason.ENDED_BY_ADMIN)
    assert _staff_in(client, 0.5)  # within the minute: the session's own times only
    assert not _staff_in(client, 2)


LINK = re.compile(r"http://testserver(/sign-in/password/[^/\s]+/)")
NEW_PASSWORD = "a-new-staff-password-77"


def test_a_password_reset_ends_every_session_of_the_person(dpo_a: User, smtp_sink: SmtpSink) -> None:
    one = staff_browser(dpo_a, at(0))
    two = staff_browser(dpo_a, at(1))
    resetting = browser()
    with time_machine.travel(at(2), tick=False):
        resetting.post("/sign-in/password/", {"email": dpo_a.email})
        match = LINK.search(smtp_sink.messages[-1].body)
        assert match
        done = resetting.post(match.group(1), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert done.status_code == 302
    assert not _staff_in(one, 3) and not _staff_in(two, 3)
    assert set(StaffSession.objects.filter(user=dpo_a).values_list("ended_why", flat=True)) == {
        EndReason.PASSWORD_CHANGED
    }


def test_an_authenticator_reset_ends_the_persons_sessions_only(dpo_a: User, admin_a: User) -> None:
    admin = staff_browser(factories.user(Role.PROCESSOR_ADMIN, factories.processor()), at(0))
    theirs = staff_browser(dpo_a, at(1))
    someone_else = staff_browser(admin_a, at(1))
    with time_machine.travel(at(2), tick=False):
        admin.post(f"/processor/staff/{dpo_a.pk}/authenticator/reset/", {"confirm": "yes"})
    assert not _staff_in(theirs, 3)
    assert _staff_in(someone_else, 3) and _staff_in(admin, 3)
    assert StaffSession.objects.get(user=dpo_a).ended_why == EndReason.TWO_FACTOR_OFF


def _code(parent: ParentAccount, minutes: float) -> str:
    parent.refresh_from_db()
    with time_machine.travel(at(minutes), tick=False):
        return f"{TOTP(bytes.fromhex(parent.totp_key)).token():06d}"


def test_a_parent_turning_two_factor_off_ends_their_other_sessions_but_not_this_one() -> None:
    alex = f.registered_parent(f.family_school("Alder Primary"), "C1")
    here = parent_browser(alex, at(0))
    _get(here, "/portal/account/two-factor/", 1)  # the key to scan
    with time_machine.travel(at(1), tick=False):
        here.post("/portal/account/two-factor/", {"token": _code(alex, 1)})
    alex.refresh_from_db()
    assert alex.totp_confirmed
    there = browser()
    with time_machine.travel(at(2), tick=False):
        there.post("/portal/sign-in/", {"email": alex.email, "password": f.PARENT_PASSWORD})
        there.post("/portal/sign-in/code/", {"token": _code(alex, 2)})
    assert _parent_in(there, 2.5)
    with time_machine.travel(at(3), tick=False):
        off = here.post("/portal/account/two-factor/", {"token": _code(alex, 3)})
    assert off.status_code == 302
    assert not _parent_in(there, 4)
    assert _parent_in(here, 4)
    ended = ParentSession.objects.get(parent_id=alex.pk, ended_at__isnull=False)
    assert ended.ended_why == EndReason.TWO_FACTOR_OFF
