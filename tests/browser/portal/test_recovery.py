"""A parent who forgot their password, end to end in a real browser: asks from the sign-in page, gets
the link by email at a real SMTP server, makes a mistake choosing the new password (told at the field
and in the title), chooses a good one, sees the success banner and signs in with it; the link is
spent afterwards. The pages pass axe."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from steward.tenancy.models import Organisation
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.portal.portal import registered, reject_analytics, sign_in
from tests.notify_fixtures import SmtpSink

NEW_PASSWORD = "a-brand-new-parent-password-31"
RESET_LINK = re.compile(r"https?://\S+/portal/sign-in/password/[^/\s]+/")


def test_a_parent_resets_a_forgotten_password_and_signs_in(
    page: Page, school: Organisation, smtp_sink: SmtpSink, server_url: str
) -> None:
    parent = registered(school, "C1", "Alex Jones", server_url, smtp_sink)
    before = len(smtp_sink.messages)

    page.goto("/portal/sign-in/")
    reject_analytics(page)
    page.get_by_role("link", name="I have forgotten my password").click()
    page.wait_for_url("**/portal/sign-in/password/")
    assert page.get_by_role("heading", level=1).inner_text() == "Reset your password"
    assert_accessible(page)
    page.get_by_label("Email address").fill(parent.email)
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert parent.email in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "portal-password-sent")

    mail = smtp_sink.wait_for(before + 1)[-1]
    assert mail.rcpt_tos == [parent.email]
    match = RESET_LINK.search(mail.body)
    assert match, mail.body
    link = match.group(0)
    assert link.startswith(server_url)

    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Choose a new password"
    page.get_by_label("New password", exact=True).fill("too-short")
    page.get_by_label("Type the new password again").fill("too-short")
    page.get_by_role("button", name="Change password").click()
    page.locator(".govuk-error-summary").wait_for()
    assert page.title().startswith("Error: Choose a new password")
    assert "This password is too short" in page.locator("#id_password-error").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-password-error")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/portal/sign-in/")
    banner = page.locator(".govuk-notification-banner--success")
    assert "Your password has been changed" in banner.inner_text()
    assert_accessible(page)

    sign_in(page, parent.email, NEW_PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text() == "Your children"

    page.context.clear_cookies()
    response = page.goto(link)
    assert response is not None and response.status == 410
    assert page.get_by_role("heading", level=1).inner_text() == "This link does not work"
