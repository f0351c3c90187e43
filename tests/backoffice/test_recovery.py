"""Staff password reset by email: the link arrives over real SMTP, works once and for an hour,
an unknown address gets the same answer and the same work, and both limits hold. The rules are
tenancy/recovery.py's; the portal's tests (tests/portal/test_recovery.py) run them with parents."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.http import urlsafe_base64_encode
from pytest_django.fixtures import Settings as SettingsWrapper
from time_machine import TimeMachineFixture

from steward.audit.models import AuditEvent
from steward.tenancy.models import User
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.notify_fixtures import SmtpSink

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-staff-password-77"
LINK = re.compile(r"http://testserver(/sign-in/password/[^/\s]+/)")
START = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def _events(action: str) -> list[AuditEvent]:
    with processor_scope():  # a reset belongs to no school: the processor's events
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _ask(client: Client, email: str) -> tuple[int, str]:
    response = client.post("/sign-in/password/", {"email": email})
    return response.status_code, response.content.decode()


def _link(sink: SmtpSink) -> str:
    match = LINK.search(sink.messages[-1].body)
    assert match, sink.messages[-1].body
    return match.group(1)


def test_a_link_arrives_by_email_sets_the_password_once_and_sign_in_still_needs_the_code(
    client: Client, admin_a: User, smtp_sink: SmtpSink
) -> None:
    status, page = _ask(client, admin_a.email)
    assert status == 200 and "Check your email" in page
    [mail] = smtp_sink.messages
    assert mail.rcpt_tos == [admin_a.email] and mail.message["Subject"] == "Reset your Steward password"
    assert "within 60 minutes" in mail.body
    path = _link(smtp_sink)

    form = client.get(path)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    short = client.post(path, {"password": "short", "password_again": "short"})
    assert short.status_code == 400
    text = short.content.decode()
    assert "<title>Error: Choose a new password" in text
    assert 'id="id_password-error"' in text and "This password is too short" in text
    mismatch = client.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "The passwords do not match" in mismatch.content.decode()
    admin_a.refresh_from_db()
    assert admin_a.check_password(factories.PASSWORD)  # nothing changed on error

    done = client.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/sign-in/")
    assert "Your password has been changed" in client.get("/sign-in/").content.decode()
    admin_a.refresh_from_db()
    assert admin_a.check_password(NEW_PASSWORD)
    assert smtp_sink.messages[-1].message["Subject"] == "Your Steward password has been changed"
    [reset] = _events("password_reset")
    assert reset.actor_user_id == admin_a.id

    # the link is spent: refused to look at and to use, and the password stays
    assert client.get(path).status_code == 410
    again = client.post(path, {"password": "another-password-99", "password_again": "another-password-99"})
    assert again.status_code == 410
    admin_a.refresh_from_db()
    assert admin_a.check_password(NEW_PASSWORD)
    assert len(_events("password_reset_link_refused")) == 1

    # a reset password is a password: the code is still asked for
    response = client.post("/sign-in/", {"email": admin_a.email, "password": NEW_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/sign-in/verify/")


def test_a_link_works_for_an_hour_and_not_after(
    client: Client, admin_a: User, smtp_sink: SmtpSink, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(START, tick=False)
    _ask(client, admin_a.email)
    path = _link(smtp_sink)

    time_machine.move_to(START + dt.timedelta(minutes=59), tick=False)
    assert client.get(path).status_code == 200  # still in its hour
    time_machine.move_to(START + dt.timedelta(minutes=61), tick=False)
    assert client.get(path).status_code == 410
    response = client.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 410
    admin_a.refresh_from_db()
    assert admin_a.check_password(factories.PASSWORD)


def test_signing_in_spends_a_link_asked_for_before(client: Client, admin_a: User, smtp_sink: SmtpSink) -> None:
    _ask(client, admin_a.email)
    path = _link(smtp_sink)
    sign_in(Client(), admin_a)  # the owner remembered the password after all
    assert client.get(path).status_code == 410


def test_a_tampered_or_foreign_link_is_refused(client: Client, admin_a: User, smtp_sink: SmtpSink) -> None:
    _ask(client, admin_a.email)
    path = _link(smtp_sink)
    uid, _, secret = path.rstrip("/").rsplit("/", 1)[-1].partition(".")
    assert client.get(path.replace(secret, secret[:-1] + ("0" if secret[-1] != "0" else "1"))).status_code == 410
    assert client.get("/sign-in/password/not-a-link/").status_code == 410
    too_big = urlsafe_base64_encode(str(2**64).encode())  # an id PostgreSQL's bigint cannot hold
    assert client.get(f"/sign-in/password/{too_big}.{secret}/").status_code == 410
    # the same token at the portal is a parent link for another account kind: refused
    assert client.get(f"/portal/sign-in/password/{uid}.{secret}/").status_code == 410


def test_an_unknown_address_gets_the_same_page_and_the_same_work(
    client: Client, admin_a: User, smtp_sink: SmtpSink
) -> None:
    unknown = "nobody@alder.invalid"
    with CaptureQueriesContext(connection) as known_queries:
        known_status, known_page = _ask(client, admin_a.email)
    with CaptureQueriesContext(connection) as unknown_queries:
        unknown_status, unknown_page = _ask(client, unknown)
    assert known_status == unknown_status == 200
    assert known_page.replace(admin_a.email, "EMAIL") == unknown_page.replace(unknown, "EMAIL")
    assert len(known_queries) == len(unknown_queries)  # the same reads and writes, in the same order
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[admin_a.email], [unknown]]
    assert "no account uses it" in smtp_sink.messages[1].body
    assert "/sign-in/password/" not in smtp_sink.messages[1].body
    asked = _events("password_reset_requested")
    assert [(e.actor_user_id, e.detail["account_found"]) for e in asked] == [(admin_a.id, True), (None, False)]


def test_a_mailbox_gets_a_few_emails_then_the_same_page_and_no_email(
    client: Client, admin_a: User, smtp_sink: SmtpSink, settings: SettingsWrapper
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_email": (2, 3600)}
    pages = [_ask(client, admin_a.email) for _ in range(3)]
    assert len({page for _, page in pages}) == 1 and pages[0][0] == 200
    assert len(smtp_sink.messages) == 2
    assert [e.detail["sent"] for e in _events("password_reset_requested")] == [True, True, False]


def test_one_address_asking_too_often_is_refused_with_429(
    client: Client, admin_a: User, smtp_sink: SmtpSink, settings: SettingsWrapper
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_address": (3, 900)}
    for n in range(3):
        assert _ask(client, f"person{n}@alder.invalid")[0] == 200
    refused = client.post("/sign-in/password/", {"email": admin_a.email})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many password resets" in refused.content.decode()
    assert len(smtp_sink.messages) == 3  # nothing sent for the refused one
    assert len(_events("password_reset_address_locked")) == 1


def test_a_bad_address_is_a_clear_error_that_sends_nothing(client: Client, smtp_sink: SmtpSink) -> None:
    response = client.post("/sign-in/password/", {"email": "not an address"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "<title>Error: Reset your password" in text and "Enter an email address in the correct format" in text
    assert smtp_sink.messages == []
