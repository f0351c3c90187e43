"""The service desk in a real browser: a school admin asks for help (missing the summary on the
way), the ICT service's support replies from its queue, and the school reads the reply; each page
passes axe and each side is emailed through the real SMTP sink."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.notify_fixtures import SmtpSink


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return factories.school("Helpdesk Primary", services_=("hosted_mis", "service_desk"))


def test_a_school_asks_for_help_the_desk_replies_and_the_school_reads_it(
    page: Page, browser: Browser, server_url: str, school: Organisation, smtp_sink: SmtpSink
) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="office@helpdesk.invalid")
    support = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")
    staff_sign_in(page, admin, school)
    page.get_by_role("link", name="Service desk").first.click()
    page.wait_for_url("**/school/service-desk/")
    assert_accessible(page)
    page.get_by_role("link", name="Ask for help").click()
    page.wait_for_url("**/school/service-desk/new/")

    page.get_by_label("What is it about?").select_option("mis_feed")
    page.get_by_label("How urgent is it?").select_option("high")
    page.get_by_label("What happened?").fill("The nightly upload at 02:00 was rejected with an error.")
    page.get_by_role("button", name="Send the request").click()

    # One mistake: the summary. The error is in the summary box and at the field; nothing else is lost.
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a summary")
    expect(page.locator("#id_summary-error")).to_contain_text("Enter a summary")
    expect(page.get_by_label("What happened?")).to_have_value("The nightly upload at 02:00 was rejected with an error.")
    assert_accessible(page)
    screenshot(page, "service-desk-raise-error")
    assert smtp_sink.messages == []

    page.get_by_label("Summary").fill("Nightly MIS upload rejected")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("sent to the ICT service")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nightly MIS upload rejected")
    reference = re.search(r"RFA-\d+", page.inner_text("main"))
    assert reference is not None
    [new] = smtp_sink.wait_for(1)
    assert new.rcpt_tos == ["service-desk@steward.invalid"] and reference[0] in new.message["Subject"]

    # The ICT service's support finds it at the top of the queue and replies.
    desk = browser.new_context(base_url=server_url, locale="en-GB", timezone_id="Europe/London").new_page()
    desk.set_default_timeout(10_000)
    staff_sign_in(desk, support)
    desk.goto("/processor/service-desk/")
    assert_accessible(desk)
    screenshot(desk, "service-desk-queue")
    desk.get_by_role("link", name=reference[0]).click()
    desk.get_by_label("Your reply").fill("We renewed the upload key; please try again tonight.")
    desk.get_by_role("button", name="Send reply").click()
    expect(desk.locator(".govuk-notification-banner--success")).to_contain_text("Your reply is sent.")
    assert_accessible(desk)
    screenshot(desk, "service-desk-ticket-processor")
    mails = smtp_sink.wait_for(2)
    assert mails[1].rcpt_tos == ["office@helpdesk.invalid"] and "renewed" not in mails[1].body
    desk.context.close()

    # The school sees the reply in the thread, and the status has moved on.
    page.reload()
    expect(page.locator("main")).to_contain_text("We renewed the upload key; please try again tonight.")
    expect(page.locator("main")).to_contain_text("In progress")
    assert_accessible(page)
    screenshot(page, "service-desk-ticket-school")
