"""The Backups page in a real browser: a processor administrator finds it from the menu and reads
when the newest copy was last verified and what the check found."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from steward.retention.models import BackupCopy
from steward.retention.services import backup_record
from steward.tenancy.models import Role
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in

TAKEN = dt.datetime(2026, 11, 29, 2, 30, tzinfo=dt.UTC)


@pytest.fixture
def verified_copy(committed_db: None) -> BackupCopy:
    school = factories.school("Backed-up Primary")
    copy = backup_record(
        taken_at=TAKEN, place="uk-backup", location="steward-20261129T023000Z.dump.age", school_ids=[school.id],
        sha256="5e" * 32, size_bytes=42 * 1024 * 1024, pg_version="18.1",
    )  # fmt: skip
    BackupCopy.objects.filter(pk=copy.pk).update(
        verified_at=TAKEN + dt.timedelta(hours=1),
        verified_ok=True,
        verification={"ok": True, "audit_chain": {"ok": True, "checked": 1204}, "replayed": 2,
                      "rows_per_school": {str(school.id): 5000}},
    )  # fmt: skip
    return copy


def test_a_processor_admin_finds_backups_in_the_menu_and_sees_the_last_verification(
    page: Page, verified_copy: BackupCopy
) -> None:
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="ops@ict.invalid")
    staff_sign_in(page, admin)
    page.get_by_role("link", name="Backups", exact=True).first.click()
    page.wait_for_url("**/processor/backups/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Backups")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("29 Nov 2026, 02:30")
    expect(row).to_contain_text("29 Nov 2026, 03:30")  # the last verification
    expect(row).to_contain_text("Verified: it restores")
    expect(row).to_contain_text("audit log intact (1204 events checked)")
    expect(row).to_contain_text("Backed-up Primary")
    assert_accessible(page)
    screenshot(page, "backoffice-backups")
