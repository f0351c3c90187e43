"""Parent sign-in under attack: two-factor codes lock the account after five wrong tries, one
address trying many accounts is refused, and invitation links cannot be guessed at speed."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP

from steward.audit.models import AuditEvent
from steward.core.models import RateLimitCounter
from steward.portal.models import ParentAccount
from steward.tenancy.scope import processor_scope
from tests.portal import families as f

pytestmark = pytest.mark.django_db


def _parent(email: str = "alex@example.invalid", *, two_factor: bool = True) -> ParentAccount:
    return ParentAccount.objects.create(
        email=email,
        full_name="Alex Jones",
        password=make_password(f.PARENT_PASSWORD),
        totp_key=os.urandom(20).hex() if two_factor else "",
        totp_confirmed=two_factor,
    )


def _code(parent: ParentAccount, *, offset_steps: int = 0) -> str:
    totp = TOTP(bytes.fromhex(parent.totp_key))
    totp.time += offset_steps * totp.step
    return f"{totp.token():06d}"


def _password_step(client: Client, parent: ParentAccount) -> None:
    response = client.post("/portal/sign-in/", {"email": parent.email, "password": f.PARENT_PASSWORD})
    assert response["Location"] == "/portal/sign-in/code/"


def test_twenty_wrong_codes_lock_the_account_and_then_the_right_code_is_refused() -> None:
    parent = _parent()
    client = Client()
    _password_step(client, parent)
    wrong = _code(parent, offset_steps=20)

    statuses = [client.post("/portal/sign-in/code/", {"token": wrong}).status_code for _ in range(20)]

    assert statuses == [400] * 4 + [429] * 16
    response = client.post("/portal/sign-in/code/", {"token": _code(parent)})
    assert response.status_code == 429
    assert 800 < int(response["Retry-After"]) <= 900
    assert b"Too many wrong codes" in response.content and b"try again in 15 minutes" in response.content
    assert client.get("/portal/").status_code == 302  # not signed in
    parent.refresh_from_db()
    assert parent.totp_last_t == -1  # the right code was not even checked, so not spent
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        locked = AuditEvent.objects.get(action="portal_two_factor_locked")
    assert locked.actor_label == f"parent account {parent.pk}"
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert AuditEvent.objects.filter(action="portal_sign_in_failed").count() == 5


def test_the_lock_is_the_accounts_not_the_sessions() -> None:
    parent = _parent()
    attacker = Client()
    _password_step(attacker, parent)
    for _ in range(5):
        attacker.post("/portal/sign-in/code/", {"token": _code(parent, offset_steps=20)})

    another = Client()
    _password_step(another, parent)
    assert another.post("/portal/sign-in/code/", {"token": _code(parent)}).status_code == 429


def test_four_wrong_codes_then_the_right_one_signs_in_and_starts_the_count_again() -> None:
    parent = _parent()
    client = Client()
    _password_step(client, parent)
    for _ in range(4):
        assert client.post("/portal/sign-in/code/", {"token": _code(parent, offset_steps=20)}).status_code == 400

    assert client.post("/portal/sign-in/code/", {"token": _code(parent)}).status_code == 302
    assert client.get("/portal/").status_code == 200
    assert not RateLimitCounter.objects.exists()


def test_the_right_code_works_again_once_the_lock_has_ended() -> None:
    parent = _parent()
    client = Client()
    _password_step(client, parent)
    for _ in range(5):
        client.post("/portal/sign-in/code/", {"token": _code(parent, offset_steps=20)})
    RateLimitCounter.objects.update(window_ends_at=timezone.now())  # fifteen minutes pass

    assert client.post("/portal/sign-in/code/", {"token": _code(parent)}).status_code == 302


def test_a_code_is_accepted_once_only() -> None:
    parent = _parent()
    first = Client()
    _password_step(first, parent)
    code = _code(parent)
    assert first.post("/portal/sign-in/code/", {"token": code}).status_code == 302

    second = Client()
    _password_step(second, parent)
    response = second.post("/portal/sign-in/code/", {"token": code})
    assert response.status_code == 400 and b"The code is wrong or has expired" in response.content


def _password(client: Client, email: str, password: str, address: str = "203.0.113.7") -> int:
    return client.post("/portal/sign-in/", {"email": email, "password": password}, REMOTE_ADDR=address).status_code


def test_spraying_forty_parent_accounts_from_one_address_is_refused_after_twenty() -> None:
    parent = _parent(two_factor=False)
    client = Client()
    emails = [parent.email] + [f"parent{i}@example.invalid" for i in range(39)]

    statuses = [_password(client, email, "Summer2026!") for email in emails]

    assert statuses == [400] * 20 + [429] * 20
    response = client.post(
        "/portal/sign-in/", {"email": parent.email, "password": f.PARENT_PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 429 and b"Too many failed sign-ins from your network" in response.content
    assert int(response["Retry-After"]) > 800
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert AuditEvent.objects.filter(action="portal_sign_in_address_locked").count() == 1
    assert _password(client, parent.email, f.PARENT_PASSWORD, address="198.51.100.4") == 302


def test_failures_at_the_portal_and_the_back_office_count_together() -> None:
    client = Client()
    for i in range(10):
        _password(client, f"parent{i}@example.invalid", "Summer2026!")
    for i in range(10):
        client.post("/sign-in/", {"email": f"staff{i}@example.invalid", "password": "x"}, REMOTE_ADDR="203.0.113.7")
    assert _password(client, "parent@example.invalid", "Summer2026!") == 429


def test_nineteen_failures_then_the_right_password_signs_the_parent_in() -> None:
    parent = _parent(two_factor=False)
    client = Client()
    for i in range(19):
        assert _password(client, f"parent{i}@example.invalid", "Summer2026!") == 400
    assert _password(client, parent.email, f.PARENT_PASSWORD) == 302


def test_guessing_invitation_links_is_refused_after_twenty_even_for_a_real_link() -> None:
    school = f.family_school("Alder Primary")
    token = f.invite(school, "C1")
    client = Client(REMOTE_ADDR="203.0.113.7")
    guesses = [f"{school.pk}.guess{i:04d}" for i in range(25)]

    statuses = [client.get(f"/portal/invitation/{guess}/").status_code for guess in guesses]

    assert statuses == [404] * 20 + [429] * 5
    response = client.get(f"/portal/invitation/{token}/")
    assert response.status_code == 429 and b"Too many invitation links" in response.content
    assert 800 < int(response["Retry-After"]) <= 900
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert AuditEvent.objects.filter(action="portal_invitation_guessing_locked").count() == 1
    assert Client(REMOTE_ADDR="198.51.100.4").get(f"/portal/invitation/{token}/").status_code == 200


def test_nineteen_broken_links_then_the_real_one_opens_and_used_links_are_not_counted() -> None:
    school = f.family_school("Alder Primary")
    first = f.invite(school, "C1")
    token = f.invite(school, "C1")  # replaces the first: that link is now 410 Gone, not a guess
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(19):
        assert client.get(f"/portal/invitation/{school.pk}.guess{i:04d}/").status_code == 404
    for _ in range(5):
        assert client.get(f"/portal/invitation/{first}/").status_code == 410
    assert client.get(f"/portal/invitation/{token}/").status_code == 200
