"""Finding things in the back office, in a real browser: a DPO searches for a pupil from the header,
follows the result to the audit log filtered to that pupil, types an impossible date (an error at
the field, every other choice kept), corrects it, and downloads the filtered log as CSV. Every page
passes axe (WCAG 2.2 AA, nothing serious or critical)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Page

from steward.audit.services import audit_record
from steward.ingest.services import batch_ingest
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.ingest import builders as b


@pytest.fixture
def world(committed_db: None) -> tuple[Organisation, User]:
    school = factories.school("Find Primary")
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="agent"
    )
    # Parents viewed their children's pages in October 2026 (the test sets the day; the server's
    # clock plays no part in what is listed).
    for day, learner, item in ((5, "L1", "attendance"), (6, "L2", "homework"), (7, "L1", "details")):
        with time_machine.travel(dt.datetime(2026, 10, day, 18, tzinfo=dt.UTC), tick=False), tenant_scope([school.id]):
            audit_record(
                action="portal_view",
                actor_label="parent account 7",
                school_id=school.id,
                object_type="mis.Learner",
                object_ids=[learner],
                detail={"item": item},
            )
    return school, factories.user(Role.SCHOOL_DPO, school)


def test_search_then_the_pupils_audit_log_then_a_date_error_then_the_csv(
    page: Page, world: tuple[Organisation, User], tmp_path: Path
) -> None:
    school, dpo = world
    staff_sign_in(page, dpo, school)
    assert page.locator("h1").inner_text() == "What needs doing"
    assert_accessible(page)
    screenshot(page, "school-home")

    page.get_by_label("Search", exact=True).fill("sam jones")
    page.locator("#header-search-button").click()
    page.wait_for_url("**/search/?q=sam+jones")
    assert page.get_by_role("heading", name="Pupils").is_visible()
    assert "Sam Jones" in page.inner_text("main") and "Priya" not in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "search-results")

    page.get_by_role("link", name="who has seen Sam Jones's data").click()
    page.wait_for_url("**/school/audit/?pupil=*")
    main = page.inner_text("main")
    assert "Viewed Sam Jones's attendance" in main and "Viewed Sam Jones's details" in main
    assert "Priya" not in main and "mis.Learner" not in main

    page.locator("#id_from_day").fill("31")
    page.locator("#id_from_month").fill("2")
    page.locator("#id_from_year").fill("2026")
    page.locator("#id_to_day").fill("6")
    page.locator("#id_to_month").fill("10")
    page.locator("#id_to_year").fill("2026")
    page.get_by_role("button", name="Apply filter").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: Audit log")
    assert page.locator(".govuk-error-summary").inner_text().count("The start date must be a real date") == 1
    assert page.locator("#id_pupil").input_value() == "Sam Jones"  # every other choice kept
    assert page.locator("#id_to_day").input_value() == "6"
    assert "Download " not in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "audit-log-date-error")

    page.locator("#id_from_day").fill("1")
    page.locator("#id_from_month").fill("10")
    page.get_by_role("button", name="Apply filter").click()
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "1 event about Find Primary" in main and "Viewed Sam Jones's attendance" in main
    assert "details" not in main.split("What happened")[1]  # the 7th is after the end date
    assert_accessible(page)
    screenshot(page, "audit-log-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download 1 event as CSV").click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert [row[2] for row in rows] == ["What happened", "Viewed Sam Jones's attendance"]

    page.goto("/school/audit/?action=export_csv")
    assert "Exported audit log entries as CSV" in page.inner_text("main")
