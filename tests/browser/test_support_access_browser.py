"""Support access in a real browser: the ICT service's support asks on a ticket (forgetting the
reason on the way), the school's DPO approves after a confirmation page, support searches and reads a
pupil's record under the banner (special category data withheld, a page outside the grant refused),
the DPO revokes, and the grant's page lists what was read. Each page passes axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.servicedesk.test_support_access import _db_now, _ticket, school_with_records


@pytest.fixture
def alder(committed_db: None) -> Organisation:
    return school_with_records()


def test_support_asks_the_school_approves_support_reads_and_the_school_sees_what_was_read(
    page: Page, browser: Browser, server_url: str, alder: Organisation
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")
    sam = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")
    ticket = _ticket(alder, dpo, _db_now())

    desk = browser.new_context(base_url=server_url, locale="en-GB", timezone_id="Europe/London").new_page()
    desk.set_default_timeout(10_000)
    staff_sign_in(desk, sam)
    desk.goto(f"/processor/service-desk/{ticket.pk}/")
    expect(desk.locator("#support-grants")).to_have_count(0)
    desk.get_by_role("link", name="Ask for support access").click()
    desk.get_by_role("checkbox", name="Pupils", exact=True).check()
    desk.get_by_role("checkbox", name="Search for people and records").check()
    desk.get_by_role("button", name="Ask for access").click()
    # One mistake: no reason. The choices made are kept.
    expect(desk.locator(".govuk-error-summary")).to_contain_text("Enter why the ticket needs access")
    expect(desk.get_by_role("checkbox", name="Pupils", exact=True)).to_be_checked()
    assert_accessible(desk)
    desk.get_by_label("Why does the ticket need access to the school's data?").fill(
        "Find why Zebedee's attendance marks are missing"
    )
    desk.get_by_role("button", name="Ask for access").click()
    expect(desk.locator("#support-grants")).to_contain_text("Awaiting the school's decision")

    # The school's DPO finds it on the support access page and approves it after being asked.
    staff_sign_in(page, dpo, alder)
    page.get_by_role("link", name="Support access").first.click()
    page.get_by_role("link", name=re.compile(r"GRANT-\d+")).first.click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Are you sure")
    assert_accessible(page)
    page.get_by_role("button", name=re.compile(r"Yes, approve")).click()
    expect(page.locator("main")).to_contain_text("Access open")

    # Support searches and reads the pupil under the banner; what the grant did not name is refused.
    desk.reload()
    desk.get_by_role("link", name="search the school's data").click()
    expect(desk.locator("#support-access-title")).to_have_text("Support access")
    desk.get_by_label("Search for a person, request, batch or data sharing flow").fill("Quillfeather")
    desk.locator("#main-content").get_by_role("button", name="Search").click()
    desk.get_by_role("link", name="Zebedee Quillfeather").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Zebedee Quillfeather")
    expect(desk.locator("#withheld")).to_contain_text("Ethnicity")
    assert_accessible(desk)
    screenshot(desk, "support-access-record")
    refused = desk.goto("/school/records/contacts/C1/")
    assert refused is not None and refused.status == 403

    # The DPO revokes; support's next page has no school; the grant lists the reads.
    page.get_by_role("button", name="Revoke access now").click()
    desk.goto("/school/records/learners/L1/")
    expect(desk.locator("#support-access-title")).to_have_count(0)
    assert "Zebedee" not in desk.inner_text("main")
    page.reload()
    expect(page.locator("main")).to_contain_text("Revoked by the school")
    expect(page.locator("main")).to_contain_text("What was read")
    expect(page.locator("main")).to_contain_text("L1")
    assert_accessible(page)
    screenshot(page, "support-access-read-list")
    desk.context.close()
