"""Staff sign-in under attack: two-factor codes lock the account after five wrong tries (in the
database, whichever worker answers), and one address trying many accounts is refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.core.models import RateLimitCounter
from steward.tenancy.models import User
from tests import factories

pytestmark = pytest.mark.django_db


def _password_step(client: Client, user: User) -> None:
    response = client.post("/sign-in/", {"email": user.email, "password": factories.PASSWORD})
    assert response["Location"] == "/sign-in/verify/"


def test_twenty_wrong_codes_lock_the_account_and_then_the_right_code_is_refused(admin_a: User) -> None:
    client = Client()
    _password_step(client, admin_a)
    wrong = factories.current_code(admin_a, offset_steps=20)

    statuses = [client.post("/sign-in/verify/", {"token": wrong}).status_code for _ in range(20)]

    assert statuses == [400] * 4 + [429] * 16
    response = client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)})
    assert response.status_code == 429
    assert 800 < int(response["Retry-After"]) <= 900
    assert b"Too many wrong two-factor codes" in response.content
    assert not AuditEvent.objects.filter(action="sign_in").exists()
    locked = AuditEvent.objects.get(action="two_factor_locked")
    assert locked.actor_user_id == admin_a.pk
    assert AuditEvent.objects.filter(action="sign_in_failed", actor_user_id=admin_a.pk).count() == 5


def test_the_lock_holds_against_a_new_session_and_ends_with_its_window(admin_a: User) -> None:
    attacker = Client()
    _password_step(attacker, admin_a)
    for _ in range(5):
        attacker.post("/sign-in/verify/", {"token": factories.current_code(admin_a, offset_steps=20)})

    client = Client()
    _password_step(client, admin_a)
    assert client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)}).status_code == 429
    RateLimitCounter.objects.update(window_ends_at=timezone.now())  # fifteen minutes pass
    admin_a.totpdevice_set.update(throttling_failure_count=0)  # and django-otp's own back-off too
    assert client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)}).status_code == 302


def test_four_wrong_codes_then_the_right_one_signs_in(admin_a: User) -> None:
    client = Client()
    _password_step(client, admin_a)
    for _ in range(4):
        admin_a.totpdevice_set.update(throttling_failure_count=0)  # a person waits out django-otp's back-off
        wrong = factories.current_code(admin_a, offset_steps=20)
        assert client.post("/sign-in/verify/", {"token": wrong}).status_code == 400

    admin_a.totpdevice_set.update(throttling_failure_count=0)
    assert client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)}).status_code == 302
    assert not RateLimitCounter.objects.exists()


def test_a_code_is_accepted_once_only(admin_a: User) -> None:
    first = Client()
    _password_step(first, admin_a)
    code = factories.current_code(admin_a)
    assert first.post("/sign-in/verify/", {"token": code}).status_code == 302

    second = Client()
    _password_step(second, admin_a)
    response = second.post("/sign-in/verify/", {"token": code})
    assert response.status_code == 400 and b"The code is wrong or has expired" in response.content
