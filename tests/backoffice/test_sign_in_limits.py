"""Staff sign-in under attack: two-factor codes lock the account after five wrong tries (in the
database, whichever worker answers), and one address trying many accounts is refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.core.models import RateLimitCounter
from steward.tenancy.models import User
from steward.tenancy.scope import processor_scope
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
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not AuditEvent.objects.filter(action="sign_in").exists()
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        locked = AuditEvent.objects.get(action="two_factor_locked")
    assert locked.actor_user_id == admin_a.pk
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
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


def _password(client: Client, email: str, password: str, address: str = "203.0.113.7") -> int:
    return client.post("/sign-in/", {"email": email, "password": password}, REMOTE_ADDR=address).status_code


def test_spraying_forty_accounts_from_one_address_is_refused_after_twenty(admin_a: User) -> None:
    client = Client()
    emails = [admin_a.email] + [f"staff{i}@alder.invalid" for i in range(39)]

    statuses = [_password(client, email, "Winter2026!") for email in emails]

    assert statuses == [400] * 20 + [429] * 20
    response = client.post(
        "/sign-in/", {"email": admin_a.email, "password": factories.PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 429 and b"Too many failed sign-ins from your network" in response.content
    assert 800 < int(response["Retry-After"]) <= 900
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert AuditEvent.objects.filter(action="sign_in_address_locked").count() == 1
    assert _password(client, admin_a.email, factories.PASSWORD, address="198.51.100.4") == 302  # elsewhere: fine


def test_nineteen_failures_from_one_address_then_the_right_password_is_accepted(admin_a: User) -> None:
    client = Client()
    for i in range(19):
        assert _password(client, f"staff{i}@alder.invalid", "Winter2026!") == 400
    assert _password(client, admin_a.email, factories.PASSWORD) == 302


def test_successful_sign_ins_from_one_address_are_never_counted(admin_a: User) -> None:
    for _ in range(25):
        assert _password(Client(), admin_a.email, factories.PASSWORD) == 302
    assert not RateLimitCounter.objects.exists()


def test_an_ipv6_address_is_counted_by_its_64(admin_a: User) -> None:
    client = Client()
    for i in range(20):
        _password(client, f"staff{i}@alder.invalid", "Winter2026!", address=f"2001:db8:1:2::{i + 1:x}")
    assert _password(client, admin_a.email, factories.PASSWORD, address="2001:db8:1:2:ffff::1") == 429
    assert _password(client, admin_a.email, factories.PASSWORD, address="2001:db8:1:3::1") == 302
