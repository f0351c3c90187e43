"""A teacher signs in to an app through Steward in a real browser: the consent screen (with an error
on the way), the redirect back to the app, and withdrawing on the account page, each checked with axe.
The app's side is authlib over real HTTP to the test server."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Page, Route

from steward.audit.actor import Actor
from steward.register.models import Recipient
from steward.rostering.services import sign_in_app_register
from steward.tenancy.models import Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.rostering.conftest import CALLBACK, school_with_flow

APP_PAGE = "<!doctype html><html lang='en'><head><title>Maths app</title></head><body><main>App</main></body></html>"


def _app(route: Route) -> None:
    """The app's callback page (its host is not on this network): the browser just lands there."""
    route.fulfill(status=200, body=APP_PAGE, content_type="text/html")


def test_the_consent_screen_its_error_and_withdrawing_are_accessible(
    page: Page, server_url: str, committed_db: None
) -> None:
    school, _ = school_with_flow("Browser Sign-in Primary", "ada@bsp.invalid")
    teacher = factories.user(Role.SCHOOL_ADMIN, school, email="ada@bsp.invalid")
    _, client_id, secret = sign_in_app_register(
        recipient=Recipient.objects.get(code="learning-app"),
        name="Maths learning app",
        redirect_uris=[CALLBACK],
        confidential=True,
        actor=Actor.system("test"),
    )
    staff_sign_in(page, teacher)
    page.route("https://app.example/**", _app)

    rp = OAuth2Session(client_id, secret, scope="openid profile", redirect_uri=CALLBACK, code_challenge_method="S256")
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(
        f"{server_url}/oauth/authorize/", code_verifier=verifier, nonce=secrets.token_urlsafe(16)
    )
    page.goto(url)
    assert page.locator("h1").inner_text() == "Sign in to Maths learning app"
    assert "Your first name (from your school's staff records)" in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "sign-in-app-consent")

    page.get_by_role("button", name="Continue").click()  # no answer chosen
    page.wait_for_load_state()
    assert page.get_by_text("There is a problem").is_visible()
    assert page.title().startswith("Error:")
    assert_accessible(page)
    screenshot(page, "sign-in-app-consent-error")

    page.get_by_label("Yes, sign me in").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{CALLBACK}**")
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["state"] == state and params["code"]
    token = rp.fetch_token(f"{server_url}/oauth/token/", authorization_response=page.url, code_verifier=verifier)
    assert token["id_token"] and token["token_type"] == "Bearer"

    page.goto("/account/apps/")
    assert page.locator("h1").inner_text() == "Apps you sign in to with Steward"
    assert_accessible(page)
    page.get_by_role("button", name="Withdraw consent").click()
    page.wait_for_url("**/account/apps/")
    assert page.get_by_text("Maths learning app will no longer receive your details.").is_visible()
    assert_accessible(page)
    screenshot(page, "sign-in-apps-account")
