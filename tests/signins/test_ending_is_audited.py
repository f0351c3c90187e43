"""Every way a session ends is audited by `signins.services` itself, whoever calls it: a password
reset by email (no sessions page involved), a parent turning two-factor off through the account
service, a school administrator's ending. The census (tests/audit/test_services_audit.py) walks each
ending function with an actor and no request; these follow the real paths over HTTP."""

from __future__ import annotations

import re

import pytest
import time_machine
from django_otp.oath import TOTP

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.portal import accounts
from steward.portal.models import ParentAccount
from steward.signins.models import EndReason, ParentSession, StaffSession
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import processor_scope
from tests.notify_fixtures import SmtpSink
from tests.portal import families as f
from tests.signins.conftest import at, browser, parent_browser, staff_browser

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/sign-in/password/[^/\s]+/)")
NEW_PASSWORD = "a-new-staff-password-77"


def _events(action: str) -> list[AuditEvent]:
    with processor_scope():
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_a_password_reset_audits_the_sessions_it_ends_with_the_account_as_actor(
    dpo_a: User, smtp_sink: SmtpSink
) -> None:
    staff_browser(dpo_a, at(0))
    [row] = StaffSession.objects.filter(user=dpo_a)
    resetting = browser(address="192.0.2.44")
    with time_machine.travel(at(2), tick=False):
        resetting.post("/sign-in/password/", {"email": dpo_a.email})
        match = LINK.search(smtp_sink.messages[-1].body)
        assert match
        resetting.post(match.group(1), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    [event] = _events("session_ended")
    assert event.object_ids == [str(row.pk)]
    assert event.detail["why"] == EndReason.PASSWORD_CHANGED and event.detail["owners"] == [dpo_a.pk]
    assert (event.actor_user_id, event.actor_label, event.ip_address) == (dpo_a.pk, str(dpo_a), "192.0.2.44")


def test_a_school_administrator_ending_a_session_is_audited_in_that_schools_log(
    alder: Organisation, admin_a: User, dpo_a: User
) -> None:
    staff_browser(dpo_a, at(0))
    admin = staff_browser(admin_a, at(1), school=alder)
    theirs = StaffSession.objects.get(user=dpo_a)
    with time_machine.travel(at(2), tick=False):
        done = admin.post(f"/school/sessions/{theirs.pk}/end/", {"confirm": "yes"})
    assert done.status_code == 302
    [event] = _events("session_ended")
    assert (event.school_id, event.actor_user_id, event.object_ids) == (alder.id, admin_a.pk, [str(theirs.pk)])
    assert event.detail == {"why": EndReason.ENDED_BY_ADMIN, "owners": [dpo_a.pk]}
    theirs.refresh_from_db()
    assert theirs.ended_by == admin_a.full_name


def _code(parent: ParentAccount, minutes: float) -> str:
    parent.refresh_from_db()
    with time_machine.travel(at(minutes), tick=False):
        return f"{TOTP(bytes.fromhex(parent.totp_key)).token():06d}"


def test_turning_two_factor_off_through_the_account_service_ends_the_other_sessions_and_audits_it() -> None:
    """No view involved: any path that turns two-factor off (a future API, a command) ends the others."""
    alex = f.registered_parent(f.family_school("Alder Primary"), "C1")
    here = parent_browser(alex, at(0))
    parent_browser(alex, at(1))
    kept, other = ParentSession.objects.filter(parent_id=alex.pk).order_by("started_at")
    actor = Actor(label=f"parent account {alex.pk}", ip_address="192.0.2.9")
    with time_machine.travel(at(2), tick=False):
        accounts.pending_two_factor_key(alex, fresh=True)
        accounts.toggle_two_factor(alex, _code(alex, 2), actor=actor, keep_session=None)  # on: nothing ends
    assert not ParentSession.objects.filter(parent_id=alex.pk, ended_at__isnull=False).exists()
    with time_machine.travel(at(3), tick=False):
        accounts.toggle_two_factor(alex, _code(alex, 3), actor=actor, keep_session=kept.pk)  # off
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.ended_at is None
    assert (other.ended_at, other.ended_why) == (at(3), EndReason.TWO_FACTOR_OFF)
    [event] = _events("portal_session_ended")
    assert event.object_ids == [str(other.pk)] and event.detail["why"] == EndReason.TWO_FACTOR_OFF
    assert (event.actor_label, event.ip_address, event.purpose) == (actor.label, "192.0.2.9", "parent_portal")
    with time_machine.travel(at(4), tick=False):
        assert here.get("/portal/").status_code == 200  # the browser kept is still signed in
