"""Sessions over real HTTP and PostgreSQL: each sign-in is recorded (hashed key, place, device), a
person lists and ends their own sessions, a school administrator their school's staff's only, a
processor administrator every member of staff's; ending one signs that browser out."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.portal.auth import SESSION_KEY as PORTAL_SESSION_KEY
from steward.signins.middleware import PARENT_SESSION_KEY
from steward.signins.models import EndReason, ParentSession, StaffSession
from steward.tenancy.models import Membership, Organisation, Role, User
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.portal import families as f
from tests.signins.conftest import (
    FIREFOX_ON_LINUX,
    GB_ADDRESS,
    US_ADDRESS,
    at,
    parent_browser,
    staff_browser,
)

pytestmark = pytest.mark.django_db


def _get(client: Client, url: str, minutes: float) -> Any:
    with time_machine.travel(at(minutes), tick=False):
        return client.get(url)


def _post(client: Client, url: str, data: dict[str, str], minutes: float) -> Any:
    with time_machine.travel(at(minutes), tick=False):
        return client.post(url, data)


def _signed_in_staff(client: Client, minutes: float) -> bool:
    response = _get(client, "/account/sessions/", minutes)
    return bool(response.status_code == 200)


def test_the_portal_and_the_middleware_name_the_same_session_key() -> None:
    assert PARENT_SESSION_KEY == PORTAL_SESSION_KEY


def test_a_staff_sign_in_is_recorded_with_a_hashed_key_its_place_and_device(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    [row] = StaffSession.objects.filter(user=dpo_a)
    key = client.session.session_key
    assert key and row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(StaffSession.objects.filter(pk=row.pk).values().first())  # never the key itself
    assert (row.ip_address, row.country_code, row.country_name) == (GB_ADDRESS, "GB", "United Kingdom")
    assert row.network == "Andrews & Arnold Ltd"
    assert row.device == "Chrome on Windows"
    assert row.started_at == row.last_seen_at == at(0)
    assert row.ended_at is None


def test_a_sign_in_from_a_private_address_is_recorded_with_an_unknown_place(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0), address="127.0.0.1", agent="")
    [row] = StaffSession.objects.filter(user=dpo_a)
    assert (row.country_code, row.network, row.device) == ("", "127.0.0.0/24", "Unknown device")
    page = _get(client, "/account/sessions/", 1).content.decode()
    assert "Unknown (a private or unlisted network)" in page


def test_a_person_lists_their_sessions_and_ends_another_only_after_confirming(dpo_a: User) -> None:
    here = staff_browser(dpo_a, at(0))
    there = staff_browser(dpo_a, at(1), address=US_ADDRESS, agent=FIREFOX_ON_LINUX)
    mine, other = StaffSession.objects.filter(user=dpo_a).order_by("started_at")

    page = _get(here, "/account/sessions/", 2).content.decode()
    assert "Chrome on Windows" in page and "Firefox on Linux" in page
    assert "United States" in page and "United Kingdom" in page
    assert page.count("This browser") == 1
    assert f'href="/account/sessions/{other.pk}/end/"' in page

    url = f"/account/sessions/{other.pk}/end/"
    confirm = _get(here, url, 3)
    assert confirm.status_code == 200 and "Do you want to end this session?" in confirm.content.decode()
    unanswered = _post(here, url, {}, 3)
    assert unanswered.status_code == 400
    text = unanswered.content.decode()
    assert "<title>Error: End this session" in text and "Select yes to end the session, or no to keep it" in text
    kept = _post(here, url, {"confirm": "no"}, 3)
    assert (kept.status_code, kept["Location"]) == (302, "/account/sessions/")
    assert _signed_in_staff(there, 4)  # nothing was ended
    other.refresh_from_db()
    assert other.ended_at is None

    done = _post(here, url, {"confirm": "yes"}, 5)
    assert (done.status_code, done["Location"]) == (302, "/account/sessions/")
    after = _get(here, "/account/sessions/", 5).content.decode()
    assert "Your session on Firefox on Linux is ended: that browser is signed out." in after
    assert "Firefox on Linux</td>" not in after
    other.refresh_from_db()
    assert (other.ended_at, other.ended_why, other.ended_by) == (at(5), EndReason.ENDED_BY_PERSON, "")
    signed_out = _get(there, "/account/sessions/", 6)
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/sign-in/")
    assert _signed_in_staff(here, 6)
    mine.refresh_from_db()
    assert mine.ended_at is None
    with processor_scope():
        [event] = AuditEvent.objects.filter(action="session_ended")
    assert event.object_ids == [str(other.pk)] and event.actor_user_id == dpo_a.pk


def test_ending_the_session_in_use_signs_the_person_out(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    [row] = StaffSession.objects.filter(user=dpo_a)
    done = _post(client, f"/account/sessions/{row.pk}/end/", {"confirm": "yes"}, 1)
    assert (done.status_code, done["Location"]) == (302, "/sign-in/")
    assert not _signed_in_staff(client, 2)


def test_signing_out_ends_the_record(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    _post(client, "/sign-out/", {}, 1)
    row = StaffSession.objects.get(user=dpo_a)
    assert (row.ended_at, row.ended_why) == (at(1), EndReason.SIGNED_OUT)


def test_another_persons_session_is_not_found_and_stays(dpo_a: User, admin_a: User) -> None:
    staff_browser(dpo_a, at(0))
    client = staff_browser(admin_a, at(1))
    theirs = StaffSession.objects.get(user=dpo_a)
    assert _get(client, f"/account/sessions/{theirs.pk}/end/", 2).status_code == 404
    assert _post(client, f"/account/sessions/{theirs.pk}/end/", {"confirm": "yes"}, 2).status_code == 404
    assert "dpo@alder.invalid" not in _get(client, "/account/sessions/", 2).content.decode()
    theirs.refresh_from_db()
    assert theirs.ended_at is None


def test_a_school_admin_sees_and_ends_their_schools_staff_sessions_only(
    alder: Organisation, admin_a: User, dpo_a: User, dpo_b: User
) -> None:
    admin = staff_browser(admin_a, at(0), school=alder)
    dpo_a_browser = staff_browser(dpo_a, at(1))
    dpo_b_browser = staff_browser(dpo_b, at(1))
    processor_staff = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="desk@ict.invalid")
    staff_browser(processor_staff, at(1))
    page = _get(admin, "/school/sessions/", 2).content.decode()
    assert "dpo@alder.invalid" in page and "admin@alder.invalid" in page
    assert "dpo@birch.invalid" not in page and "desk@ict.invalid" not in page

    other_school = StaffSession.objects.get(user=dpo_b)
    assert _get(admin, f"/school/sessions/{other_school.pk}/end/", 3).status_code == 404
    assert _post(admin, f"/school/sessions/{other_school.pk}/end/", {"confirm": "yes"}, 3).status_code == 404
    other_school.refresh_from_db()
    assert other_school.ended_at is None and _signed_in_staff(dpo_b_browser, 4)

    own_school = StaffSession.objects.get(user=dpo_a)
    done = _post(admin, f"/school/sessions/{own_school.pk}/end/", {"confirm": "yes"}, 5)
    assert (done.status_code, done["Location"]) == (302, "/school/sessions/")
    own_school.refresh_from_db()
    assert (own_school.ended_why, own_school.ended_by) == (EndReason.ENDED_BY_ADMIN, admin_a.full_name)
    assert not _signed_in_staff(dpo_a_browser, 6)
    assert "session on Chrome on Windows is ended" in _get(admin, "/school/sessions/", 6).content.decode()


def test_a_member_restricted_at_the_school_is_not_in_its_staff_sessions(
    alder: Organisation, admin_a: User, dpo_a: User
) -> None:
    admin = staff_browser(admin_a, at(0), school=alder)
    staff_browser(dpo_a, at(1))
    assert "dpo@alder.invalid" in _get(admin, "/school/sessions/", 2).content.decode()
    Membership.objects.filter(user=dpo_a, organisation=alder).update(restricted_at=timezone.now())
    assert "dpo@alder.invalid" not in _get(admin, "/school/sessions/", 3).content.decode()
    theirs = StaffSession.objects.get(user=dpo_a)
    assert _post(admin, f"/school/sessions/{theirs.pk}/end/", {"confirm": "yes"}, 4).status_code == 404


def test_a_dpo_cannot_open_the_staff_sessions_page(alder: Organisation, dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0), school=alder)
    assert _get(client, "/school/sessions/", 1).status_code == 403


def test_a_processor_admin_sees_and_ends_every_staff_session(dpo_a: User, dpo_b: User) -> None:
    admin = staff_browser(factories.user(Role.PROCESSOR_ADMIN, factories.processor()), at(0))
    staff_browser(dpo_a, at(1))
    dpo_b_browser = staff_browser(dpo_b, at(1))
    page = _get(admin, "/processor/sessions/", 2).content.decode()
    assert "dpo@alder.invalid" in page and "dpo@birch.invalid" in page
    theirs = StaffSession.objects.get(user=dpo_b)
    _post(admin, f"/processor/sessions/{theirs.pk}/end/", {"confirm": "yes"}, 3)
    assert not _signed_in_staff(dpo_b_browser, 4)


def test_a_parent_lists_and_ends_their_own_sessions_only() -> None:
    school = f.family_school("Alder Primary")
    alex = f.registered_parent(school, "C1")
    blake = f.registered_parent(school, "C2", name="Raj Shah")
    here = parent_browser(alex, at(0))
    there = parent_browser(alex, at(1), address=US_ADDRESS, agent=FIREFOX_ON_LINUX)
    parent_browser(blake, at(1))
    other = ParentSession.objects.get(parent_id=alex.pk, country_code="US")
    blakes = ParentSession.objects.get(parent_id=blake.pk)

    page = _get(here, "/portal/account/sessions/", 2).content.decode()
    assert "Firefox on Linux" in page and "United States" in page and page.count("This browser") == 1
    assert _post(here, f"/portal/account/sessions/{blakes.pk}/end/", {"confirm": "yes"}, 2).status_code == 404
    url = f"/portal/account/sessions/{other.pk}/end/"
    assert _post(here, url, {}, 3).status_code == 400
    assert _get(there, "/portal/", 3).status_code == 200
    done = _post(here, url, {"confirm": "yes"}, 4)
    assert (done.status_code, done["Location"]) == (302, "/portal/account/sessions/")
    signed_out = _get(there, "/portal/", 5)
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/portal/sign-in/")
    assert _get(here, "/portal/", 5).status_code == 200
    blakes.refresh_from_db()
    assert blakes.ended_at is None


def test_a_session_made_before_tracking_is_recorded_at_its_next_request(dpo_a: User) -> None:
    client = Client(REMOTE_ADDR=GB_ADDRESS)
    with time_machine.travel(at(0), tick=False):
        client.force_login(dpo_a)
        client.get("/")
    [row] = StaffSession.objects.filter(user=dpo_a)
    assert row.started_at == at(0) and row.country_code == "GB"


def test_closing_a_parent_account_ends_and_deletes_its_sessions() -> None:
    alex = f.registered_parent(f.family_school("Alder Primary"), "C1")
    here = parent_browser(alex, at(0))
    there = parent_browser(alex, at(1))
    _post(here, "/portal/account/close/", {}, 2)
    assert not ParentSession.objects.filter(parent_id=alex.pk).exists()
    assert _get(there, "/portal/", 3).status_code == 302


def test_signing_in_again_on_the_same_browser_ends_the_earlier_record(dpo_a: User) -> None:
    client = staff_browser(dpo_a, at(0))
    with time_machine.travel(at(1), tick=False):
        client.post("/sign-in/", {"email": dpo_a.email, "password": factories.PASSWORD})
        client.post("/sign-in/verify/", {"token": factories.current_code(dpo_a)})
    first, second = StaffSession.objects.filter(user=dpo_a).order_by("started_at")
    assert (first.ended_at, first.ended_why) == (at(1), EndReason.SIGNED_OUT)
    assert second.ended_at is None and second.key_hash != first.key_hash
    assert _get(client, "/account/sessions/", 2).content.decode().count("End session") == 1
