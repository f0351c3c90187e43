"""The demo's third-party app (steward.demo.sign_in_client) signs a member of staff in with Steward in
a real browser: its button, Steward's consent screen (with an error on the way), and back at the app
the claims it received; a forged answer to the app is refused. The app speaks real HTTP to the test
server and checks the ID token against the published keys, as a supplier's app would."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from steward.audit.actor import Actor
from steward.demo import sign_in_client
from steward.register.models import Recipient
from steward.rostering.services import sign_in_app_register
from steward.tenancy.models import Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.rostering.conftest import school_with_flow


@pytest.fixture
def demo_app(server_url: str, committed_db: None) -> Iterator[sign_in_client.SignInClient]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, client_id, secret = sign_in_app_register(
        recipient=Recipient.objects.get(code="learning-app"),
        name=sign_in_client.NAME,
        redirect_uris=[f"http://127.0.0.1:{port}{sign_in_client.CALLBACK}"],
        confidential=True,
        actor=Actor.system("test"),
    )
    app = sign_in_client.start(
        "127.0.0.1", port, issuer=f"{server_url}/oauth", client_id=client_id, client_secret=secret
    )
    yield app
    app.stop()


def test_a_teacher_signs_in_to_the_demo_app_and_it_shows_what_it_received(
    page: Page, demo_app: sign_in_client.SignInClient
) -> None:
    school, _ = school_with_flow("Demo App Primary", "grace@dap.invalid")
    teacher = factories.user(Role.SCHOOL_ADMIN, school, email="grace@dap.invalid")
    staff_sign_in(page, teacher)

    page.goto(f"{demo_app.url}/callback?state=forged&code=stolen")
    assert page.locator("h1").inner_text() == "You are not signed in"
    assert "unknown state" in page.inner_text("body")

    page.goto(demo_app.url)
    page.get_by_role("link", name="Sign in with Steward").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"Sign in to {sign_in_client.NAME}"
    page.get_by_role("button", name="Continue").click()  # no answer chosen
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert_accessible(page)
    page.get_by_label("Yes, sign me in").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{demo_app.url}/callback**")
    body = page.inner_text("body")
    assert page.locator("h1").inner_text() == "Hello Ada"  # the MIS staff record's name, released
    assert "Lovelace" in body and "school_urn" in body and "Head of maths" in body
    assert "grace@dap.invalid" not in body  # the flow does not release the work email
    screenshot(page, "demo-sign-in-app-signed-in")
