"""Sessions in a real browser: one person signs in from two browsers, finds *Your sessions* in the
account bar, tries to end the other without answering the question (an error, nothing ended), ends
it, and the other browser is signed out at its next page. Each page passes axe; the second sign-in
was a new device, so the person got a "New sign-in to Steward" email through the real SMTP sink (the
account's first sign-in sends none)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.notify_fixtures import SmtpSink

FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return factories.school("Sessions Primary")


def test_a_person_ends_their_other_session_and_that_browser_is_signed_out(
    page: Page, browser: Browser, server_url: str, school: Organisation, smtp_sink: SmtpSink
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@sessions.invalid")
    staff_sign_in(page, dpo)

    other = browser.new_context(
        base_url=server_url, locale="en-GB", timezone_id="Europe/London", user_agent=FIREFOX_ON_LINUX
    ).new_page()
    other.set_default_timeout(10_000)
    other.goto("/sign-in/")
    other.get_by_label("Email address").fill(dpo.email)
    other.get_by_label("Password").fill(factories.PASSWORD)
    other.get_by_role("button", name="Continue").click()
    other.wait_for_url("**/sign-in/verify/")
    other.get_by_label("Security code").fill(factories.current_code(dpo, offset_steps=1))  # a code is used once
    other.get_by_role("button", name="Sign in").click()
    other.wait_for_url("**/school/")

    page.get_by_role("link", name="Your sessions").click()
    page.wait_for_url("**/account/sessions/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    table = page.locator("table")
    expect(table).to_contain_text("Firefox on Linux")
    expect(table).to_contain_text("This browser")
    assert_accessible(page)
    screenshot(page, "sessions-yours")

    page.get_by_role("link", name="End session on Firefox on Linux").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("End this session of yours")
    page.get_by_role("button", name="Continue").click()  # no answer: an error, nothing ended
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select yes to end the session, or no to keep it")
    assert_accessible(page)
    screenshot(page, "sessions-end-error")
    other.reload()
    expect(other.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    assert "/sign-in/" not in other.url

    page.get_by_label("Yes, end it").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/sessions/")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Your session on Firefox on Linux is ended: that browser is signed out."
    )
    expect(page.locator("table")).not_to_contain_text("Firefox on Linux")
    assert_accessible(page)

    other.goto("/school/")
    other.wait_for_url("**/sign-in/**")
    other.context.close()

    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Subject"] == "New sign-in to Steward" and mail.rcpt_tos == [dpo.email]
    assert "Device: Firefox on Linux" in mail.body
