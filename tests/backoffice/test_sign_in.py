"""Staff sign-in: password plus TOTP, lockout after repeated failures, every step audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.audit.models import AuditEvent
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.backoffice.conftest import sign_in

pytestmark = pytest.mark.django_db


def _actions() -> list[str]:
    with processor_scope():  # sign-ins belong to no school: the processor's events
        return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_password_and_totp_sign_the_user_in_and_are_audited(client: Client, admin_a: User) -> None:
    sign_in(client, admin_a)
    assert client.get("/school/register/").status_code in (200, 302)
    with processor_scope():
        event = AuditEvent.objects.get(action="sign_in")
    assert (event.actor_user_id, event.detail["two_factor"]) == (admin_a.id, "totp")
    client.post("/sign-out/")
    assert _actions()[-1] == "sign_out"
    assert client.get("/school/register/").status_code == 302


def test_a_password_alone_does_not_open_any_page(client: Client, admin_a: User) -> None:
    client.post("/sign-in/", {"email": admin_a.email, "password": factories.PASSWORD})
    response = client.get("/school/people/")
    assert (response.status_code, response["Location"]) == (302, "/sign-in/?next=/school/people/")


def test_a_wrong_totp_code_is_refused_and_audited(client: Client, admin_a: User) -> None:
    client.post("/sign-in/", {"email": admin_a.email, "password": factories.PASSWORD})
    response = client.post("/sign-in/verify/", {"token": factories.current_code(admin_a, offset_steps=10)})
    assert response.status_code == 400
    assert b"The code is wrong" in response.content
    with processor_scope():
        assert AuditEvent.objects.filter(action="sign_in_failed", actor_user_id=admin_a.id).count() == 1
        assert not AuditEvent.objects.filter(action="sign_in").exists()


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client: Client, admin_a: User) -> None:
    response = client.post("/sign-in/", {"email": admin_a.email, "password": "not-the-password"})
    assert response.status_code == 400
    assert b"Enter a correct email address and password" in response.content
    with processor_scope():
        event = AuditEvent.objects.get(action="sign_in_failed")
    assert event.detail == {"email": admin_a.email, "reason": "wrong email or password"}


def test_five_failures_lock_the_account_even_against_the_right_password(client: Client, admin_a: User) -> None:
    for _ in range(4):
        assert client.post("/sign-in/", {"email": admin_a.email, "password": "wrong"}).status_code == 400
    assert client.post("/sign-in/", {"email": admin_a.email, "password": "wrong"}).status_code == 429
    response = client.post("/sign-in/", {"email": admin_a.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "sign_in_locked_out" in _actions()
    assert client.get("/sign-in/verify/").status_code == 302  # no pending sign-in was started


def test_a_staff_user_without_an_authenticator_must_enrol_one(client: Client, school_a: Organisation) -> None:
    user = factories.user(Role.SCHOOL_DPO, school_a, with_totp=False)
    client.post("/sign-in/", {"email": user.email, "password": factories.PASSWORD})
    page = client.get("/sign-in/verify/")
    assert b"Set up two-factor authentication" in page.content and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    device.confirmed = True  # only to compute the code the app would show
    device.save()
    code = factories.current_code(user)
    device.confirmed = False
    device.save()
    assert client.post("/sign-in/verify/", {"token": code}).status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed is True
    with processor_scope():
        assert AuditEvent.objects.get(action="sign_in").detail == {"two_factor": "totp", "enrolled_now": True}


def test_pages_carry_a_strict_content_security_policy_and_safe_cookies(client: Client, admin_a: User) -> None:
    response = client.get("/sign-in/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    sign_in(client, admin_a)
    session_cookie = client.cookies["steward_session"]
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"


def test_an_open_redirect_after_sign_in_is_refused(client: Client, admin_a: User) -> None:
    client.post("/sign-in/?next=https://evil.invalid/", {"email": admin_a.email, "password": factories.PASSWORD})
    response = client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)})
    assert response["Location"] == "/"


def test_passwords_are_hashed_with_argon2(admin_a: User) -> None:
    assert admin_a.password.startswith("argon2$")
    assert factories.PASSWORD not in admin_a.password
