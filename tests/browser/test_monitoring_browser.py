"""Monitoring in a real browser: a DPO opens an alert found by a detection pass, fails to resolve it
without a note (the error on the way), resolves it as an incident after the confirmation, and starts
a breach record that shows the ICO's 72-hour clock."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.monitoring.conftest import WEDNESDAY, alerts, emit, run_pass


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return factories.school("Watchful Primary")


def test_a_dpo_resolves_an_alert_as_an_incident_and_starts_a_breach_record(
    page: Page, server_url: str, school: Organisation
) -> None:
    reader = factories.user(Role.SCHOOL_ADMIN, school, email="reader@watchful.invalid")
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@watchful.invalid")
    for hour in range(4):  # 120 pupils' SEN records in a morning, with no history: worth 600
        emit(
            WEDNESDAY + dt.timedelta(hours=hour),
            "view",
            actor_user_id=reader.pk,
            school_id=school.id,
            object_type="mis.SpecialNeeds",
            object_ids=[f"L{n}" for n in range(hour * 30, hour * 30 + 30)],
        )
    run_pass()
    [alert] = alerts("bulk_reads_day")

    staff_sign_in(page, dpo, school)
    page.get_by_role("link", name="Alerts").first.click()
    page.wait_for_url("**/school/alerts/")
    assert_accessible(page)
    page.get_by_role("link", name="Far more records read in a day than usual").click()
    page.wait_for_url(f"**/school/alerts/{alert.pk}/")
    expect(page.locator("main")).to_contain_text("Special educational needs")
    assert_accessible(page)

    # Resolving needs a note: the error is in the summary and at the field.
    page.get_by_label("Resolve: this was an incident").check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a note saying why you are resolving the alert")
    assert_accessible(page)
    screenshot(page, "monitoring-alert-error")

    page.get_by_label("Resolve: this was an incident").check()
    page.get_by_label("Note").fill("The SEN list was copied to a personal account.")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure you want to resolve this alert?")
    page.get_by_role("button", name="Yes, resolve the alert").click()
    expect(page.locator("main")).to_contain_text("Resolved: an incident")

    page.get_by_role("link", name="Start a breach record").click()
    page.wait_for_url(f"**/school/alerts/{alert.pk}/breach/")
    expect(page.get_by_label("What happened")).to_have_value("The SEN list was copied to a personal account.")
    page.get_by_role("button", name="Start the breach record").click()
    expect(page.locator("#ico-clock")).to_contain_text(re.compile(r"(71|72) hours \d+ minutes left"))
    expect(page.locator("main")).to_contain_text("120")  # people affected, from the audit evidence
    assert_accessible(page)
    screenshot(page, "monitoring-breach-clock")
