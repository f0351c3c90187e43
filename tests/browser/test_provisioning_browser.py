"""A school admin sets up account provisioning in a real browser (issue #13), checked with axe.

Found from the menu ("Accounts"), a directory set up with a naming rule mistyped on the way (the
error at its field), a plan read with its reasons, applied after a confirmation page, the outcome
read back once the task worker has run, and the new pupils' first passwords printed once as a PDF.
The directory is a real SCIM server (scim2-server on loopback); the worker is `steward`'s own, run
once in its own process as a deployment runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from steward.demo import scim_server
from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.conftest import TEST_DB
from tests.provisioning.conftest import TOKEN, approved_rostering_flow, oak_academy, running_directory, users
from tests.provisioning.scim_faults import Faults


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return oak_academy()


@pytest.fixture
def directory() -> Iterator[tuple[scim_server.ScimServer, Faults]]:
    yield from running_directory()


def run_worker_once() -> None:
    """The queued tasks, run by the database task worker in its own process until the queue is empty."""
    env = {**os.environ, "STEWARD_DB_NAME": TEST_DB, "STEWARD_CONN_MAX_AGE": "0"}
    env["STEWARD_OUTBOUND_ALLOWED_PRIVATE"] = "127.0.0.0/8"  # the test's directory, on loopback
    env.pop("STEWARD_TESTING", None)
    subprocess.run(
        [sys.executable, "-m", "steward", "db_worker", "--queue-name", "*", "--batch"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_a_school_admin_sets_up_a_directory_and_applies_its_first_plan(
    page: Page, school: Organisation, directory: Any
) -> None:
    server, _ = directory
    approved_rostering_flow(school)
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="admin@oak.invalid")
    staff_sign_in(page, admin, school)
    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts in directories")
    page.get_by_role("link", name="Set up a directory").click()

    page.get_by_label("Short name").fill("entra")
    page.get_by_label("Approved data flow").select_option(index=1)
    page.get_by_label("Kind of directory").select_option("scim")
    page.get_by_label("Address", exact=True).fill(server.url)
    page.get_by_label("Token or password").fill(TOKEN)
    page.get_by_label("Sign-in domain").fill("school.example")
    page.get_by_label("Staff account names").fill("{first}.{surname}@{domain}")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("unknown placeholder {first}")
    expect(page.locator("#id_staff_naming-error")).to_contain_text("unknown placeholder {first}")
    assert_accessible(page)
    screenshot(page, "provisioning-target-error")

    page.get_by_label("Staff account names").fill("{forename}.{surname}{n}@{domain}")
    page.get_by_label("Token or password").fill(TOKEN)  # a password field is never filled back in
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The directory entra is saved")
    page.get_by_role("button", name="Make a new plan").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Plan made: 6 changes. Nothing is sent until you apply it."
    )
    plan = page.get_by_role("table").first
    expect(plan).to_contain_text("On roll in Year 7.")
    expect(plan).to_contain_text("siobhan.oconnor-ni-bhriain@school.example")
    assert_accessible(page)
    screenshot(page, "provisioning-plan")

    page.get_by_role("link", name="Apply this plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply the plan for entra?")
    assert_accessible(page)
    assert users(server) == {}  # nothing sent before the confirmation
    page.get_by_role("button", name="Apply the plan").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The plan is being applied")
    run_worker_once()
    assert len(users(server)) == 6
    page.reload()
    expect(page.locator(".govuk-tag", has_text="Applied").first).to_be_visible()
    expect(page.get_by_role("table").first).to_contain_text("Done")
    screenshot(page, "provisioning-applied")

    page.get_by_role("link", name="Print 1 letter for 7A").click()
    expect(page.locator(".govuk-warning-text")).to_contain_text("The passwords are shown once")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the letters (PDF)").click()
    assert download.value.suggested_filename == "initial-passwords-7A.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
