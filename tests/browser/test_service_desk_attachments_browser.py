"""Service desk attachments in a real browser: a school DPO raises a request with a file (a wrong
type refused on the way, by name), sees the scanner's warning that the file holds a pupil's UPN,
and quarantines it behind a confirmation page; the ICT service then sees the file's name but
cannot open it. Each page passes axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from steward.mis.identifiers import make_upn
from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in

UPN = make_upn("881", "3001", 20, 42)


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return factories.school("Attach Primary", services_=("hosted_mis", "service_desk"))


def test_a_dpo_sends_a_file_is_warned_of_a_upn_in_it_and_quarantines_it(
    page: Page, browser: Browser, server_url: str, school: Organisation
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@attach.invalid")
    support = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")
    staff_sign_in(page, dpo, school)
    page.goto("/school/service-desk/new/")
    page.get_by_label("What is it about?").select_option("mis_feed")
    page.get_by_label("Summary").fill("Rows rejected in last night's upload")
    page.get_by_label("What happened?").fill("The upload rejected some rows; the export is attached.")

    # One mistake: a program renamed as a PDF. Refused by name and why; nothing is sent.
    files = page.get_by_label("Attachments (optional)")
    files.set_input_files([{"name": "rows.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00\x03\x00"}])
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("rows.pdf must be a PDF, PNG, JPEG")
    expect(page.locator("#id_attachments-error")).to_contain_text("rows.pdf must be a PDF")
    expect(page.get_by_label("Summary")).to_have_value("Rows rejected in last night's upload")
    assert_accessible(page)
    screenshot(page, "service-desk-attachment-error")

    export = f"upn,surname\n{UPN},Example\n".encode()
    files.set_input_files([{"name": "rejected.csv", "mimeType": "text/csv", "buffer": export}])
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("sent to the ICT service")
    warning = page.locator("[data-attachment-warning]")
    expect(warning).to_contain_text("rejected.csv looks like it contains 1 pupil UPN")
    expect(warning).to_contain_text("If the file holds them, quarantine it or redact it")
    assert_accessible(page)
    screenshot(page, "service-desk-attachment-warning")
    ticket_url = page.url

    page.get_by_role("link", name="Quarantine rejected.csv").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to quarantine rejected.csv?")
    assert_accessible(page)
    page.get_by_role("button", name="Yes, quarantine rejected.csv").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("rejected.csv is quarantined")
    expect(page.locator("main")).to_contain_text("Quarantined by the school")
    assert_accessible(page)
    screenshot(page, "service-desk-attachment-quarantined")

    # The ICT service sees the name and the status, with no link; the download itself is refused.
    desk = browser.new_context(base_url=server_url, locale="en-GB", timezone_id="Europe/London").new_page()
    desk.set_default_timeout(10_000)
    staff_sign_in(desk, support)
    ticket_id = ticket_url.rstrip("/").rsplit("/", 1)[-1]
    desk.goto(f"/processor/service-desk/{ticket_id}/")
    expect(desk.locator("main")).to_contain_text("rejected.csv")
    expect(desk.locator("main")).to_contain_text("Quarantined by the school")
    expect(desk.get_by_role("link", name="rejected.csv", exact=True)).to_have_count(0)
    assert_accessible(desk)
    link = page.get_by_role("link", name="rejected.csv", exact=True).get_attribute("href")
    assert link is not None
    refused = desk.request.get(link.replace("/school/", "/processor/"))
    assert refused.status == 403 and "quarantined by the school" in refused.text()
    desk.context.close()
