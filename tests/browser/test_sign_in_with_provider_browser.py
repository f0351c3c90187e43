"""A member of staff signs in with their school's account in a real browser: "Sign in with <name>" on
Steward's sign-in page, the provider's own page, and back to Steward, once refused (an address no
account uses) and then signed in, with and without the provider's second factor. The provider is
`steward.demo.sign_in_idp` on loopback; Steward is its own gunicorn server, started with the
provider in `STEWARD_SIGN_IN_PROVIDERS`. Steward's pages are checked with axe."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from steward.audit.models import AuditEvent
from steward.demo import sign_in_idp
from steward.tenancy.models import Role
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.conftest import _TRAVEL_KEY, steward_server
from tests.notify_fixtures import SmtpSink

NAME = "Alder Primary (Microsoft 365)"
SECRET = "browser-idp-secret"


@pytest.fixture
def school_account_server(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    smtp_sink_server: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, sign_in_idp.SignInIdp]]:
    if _TRAVEL_KEY in request.config.stash:
        pytest.skip("the test server keeps the real clock; STEWARD_TEST_TODAY moves only the test process")
    idp = sign_in_idp.start(client_id="steward-browser", client_secret=SECRET, name="Alder Primary")
    provider = {
        "key": "alder-m365",
        "name": NAME,
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": SECRET,
        "domains": ["alder.invalid"],
    }
    monkeypatch.setenv("STEWARD_SIGN_IN_PROVIDERS", json.dumps([provider]))
    try:
        with steward_server(smtp_sink_server, "--workers", "1") as url:
            yield url, idp
    finally:
        idp.stop()


@pytest.fixture
def staff_page(browser: Browser, school_account_server: tuple[str, sign_in_idp.SignInIdp]) -> Iterator[Page]:
    context = browser.new_context(base_url=school_account_server[0], locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _at_the_provider(page: Page, email: str, *, second_factor: bool) -> None:
    page.goto("/sign-in/")
    page.get_by_role("button", name=f"Sign in with {NAME}").click()
    page.wait_for_url("**/authorize?**")
    assert page.locator("h1").inner_text() == "Sign in to Alder Primary"
    page.get_by_label("Email address").fill(email)
    if second_factor:
        page.get_by_label("I also approved the sign-in on my phone (a second factor)").check()
    page.get_by_role("button", name="Sign in").click()


def test_signing_in_with_the_school_account_an_error_then_signed_in(
    staff_page: Page, school_account_server: tuple[str, sign_in_idp.SignInIdp], committed_db: None
) -> None:
    page = staff_page
    school = factories.school("Alder Primary")
    teacher = factories.user(Role.SCHOOL_ADMIN, school, email="ada@alder.invalid")

    page.goto("/sign-in/")
    assert page.get_by_role("button", name=f"Sign in with {NAME}").is_visible()
    assert_accessible(page)
    screenshot(page, "sign-in-with-school-account")

    _at_the_provider(page, "nobody@alder.invalid", second_factor=True)
    page.wait_for_url("**/sign-in/with/alder-m365/return/**")
    assert page.title().startswith("Error:")
    assert page.get_by_text("No Steward account uses nobody@alder.invalid").first.is_visible()
    assert page.get_by_role("button", name="Sign out").count() == 0
    assert_accessible(page)
    screenshot(page, "sign-in-with-school-account-error")

    _at_the_provider(page, teacher.email, second_factor=True)
    page.wait_for_load_state()
    assert "/sign-in/" not in page.url, page.inner_text("main")
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in/")
    _at_the_provider(page, teacher.email, second_factor=False)  # no second factor: our code step follows
    page.wait_for_url("**/sign-in/verify/")
    page.get_by_label("Security code").fill(factories.current_code(teacher))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in/" not in page.url, page.inner_text("main")

    with processor_scope():
        signing_in = AuditEvent.objects.filter(action__in=("sign_in", "sign_in_failed"))
        events = list(signing_in.order_by("id").values("action", "detail"))
    assert [(e["action"], e["detail"].get("provider"), e["detail"].get("two_factor")) for e in events] == [
        ("sign_in_failed", "alder-m365", None),
        ("sign_in", "alder-m365", "identity_provider"),
        ("sign_in", "alder-m365", "totp"),
    ]
    assert events[0]["detail"]["reason"] == "no account uses the email address"
