"""Parent password reset by email, through the portal's own pages: the same rules as staff
(tenancy/recovery.py, tested in depth in tests/backoffice/test_recovery.py), with parent accounts,
the portal's look, a closed account treated as no account, and the two-factor code kept."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount
from steward.tenancy.models import User
from steward.tenancy.scope import processor_scope
from tests.notify_fixtures import SmtpSink
from tests.portal import families as f

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-parent-password-55"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
LINK = re.compile(r"http://testserver(/portal/sign-in/password/[^/\s]+/)")


def _parent(email: str = "alex@example.invalid", *, two_factor: bool = False, closed: bool = False) -> ParentAccount:
    return ParentAccount.objects.create(
        email=email,
        full_name="Alex Jones",
        password=make_password(f.PARENT_PASSWORD),
        totp_key=os.urandom(20).hex() if two_factor else "",
        totp_confirmed=two_factor,
        closed_at=timezone.now() if closed else None,
    )


def _link(sink: SmtpSink) -> str:
    match = LINK.search(sink.messages[-1].body)
    assert match, sink.messages[-1].body
    return match.group(1)


def _page(content: bytes, email: str) -> str:
    """The page with the address and the per-request CSRF token (of the cookie banner) taken out."""
    return CSRF.sub("", content.decode().replace(email, "EMAIL"))


def _actions() -> list[tuple[str, str]]:
    with processor_scope():
        return list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))


def test_a_parent_resets_their_password_once_and_signs_in_with_it(client: Client, smtp_sink: SmtpSink) -> None:
    parent = _parent()
    page = client.post("/portal/sign-in/password/", {"email": "Alex@Example.invalid"})
    assert page.status_code == 200 and "Check your email" in page.content.decode()
    assert "Parent portal" in page.content.decode()  # the portal's look, not the back office's
    [mail] = smtp_sink.messages
    assert mail.message["Subject"] == "Reset your parent portal password"
    path = _link(smtp_sink)

    short = client.post(path, {"password": "short", "password_again": "short"})
    assert short.status_code == 400 and "<title>Error: Choose a new password" in short.content.decode()
    done = client.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/portal/sign-in/")
    assert client.get(path).status_code == 410  # used

    f.portal_sign_in(client, parent.email, NEW_PASSWORD)
    actions = [action for action, _ in _actions()]
    assert actions == [
        "portal_password_reset_requested",
        "portal_password_reset",
        "portal_sign_in",
    ]
    assert ("portal_password_reset", f"parent account {parent.pk}") in _actions()


def test_a_reset_keeps_the_parents_two_factor_code(client: Client, smtp_sink: SmtpSink) -> None:
    parent = _parent(two_factor=True)
    client.post("/portal/sign-in/password/", {"email": parent.email})
    client.post(_link(smtp_sink), {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    response = client.post("/portal/sign-in/", {"email": parent.email, "password": NEW_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/portal/sign-in/code/")


def test_a_closed_account_is_answered_like_no_account(client: Client, smtp_sink: SmtpSink) -> None:
    closed = _parent("closed@example.invalid", closed=True)
    _parent("open@example.invalid")
    with CaptureQueriesContext(connection) as closed_queries:
        closed_page = client.post("/portal/sign-in/password/", {"email": closed.email})
    with CaptureQueriesContext(connection) as open_queries:
        open_page = client.post("/portal/sign-in/password/", {"email": "open@example.invalid"})
    assert closed_page.status_code == open_page.status_code == 200
    assert _page(closed_page.content, closed.email) == _page(open_page.content, "open@example.invalid")
    assert len(closed_queries) == len(open_queries)
    closed_mail, open_mail = smtp_sink.messages
    assert "no account uses it" in closed_mail.body and "/portal/sign-in/password/" in open_mail.body


def test_a_staff_link_does_not_open_a_parent_account(client: Client, smtp_sink: SmtpSink) -> None:
    """The token is salted per kind of account: a parent's link at the staff page is refused even
    for a staff account whose every hashed field is the same."""
    parent = _parent()
    # a staff account that hashes exactly like the parent's: same id, email, password hash, no sign-in
    User.objects.create(id=parent.pk, email=parent.email, password=parent.password, full_name="Alex Jones")
    client.post("/portal/sign-in/password/", {"email": "alex@example.invalid"})
    token = _link(smtp_sink).rstrip("/").rsplit("/", 1)[-1]
    assert client.get(f"/sign-in/password/{token}/").status_code == 410
