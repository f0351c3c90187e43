"""Smoke tests in a real browser: the sign-in page and a school's public privacy notices render, pass axe
(WCAG 2.2 AA, serious and critical) and can be used with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from steward.tenancy import services as tenancy_services
from steward.tenancy.models import DataProtectionContact, Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot

_FOCUSED = """() => {
  const el = document.activeElement;
  return el.id || (el.textContent || "").trim();
}"""


def _loaded_stylesheets(page: Page) -> int:
    """How many stylesheets the page really loaded: axe's contrast checks mean little without the CSS."""
    return int(page.evaluate("() => [...document.styleSheets].filter(s => s.cssRules.length > 0).length"))


def test_the_sign_in_page_renders_is_accessible_and_works_with_the_keyboard(page: Page) -> None:
    page.goto("/sign-in/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert _loaded_stylesheets(page) == 2  # GOV.UK Frontend and ours
    assert_accessible(page)

    focused = []
    for _ in range(5):
        page.keyboard.press("Tab")
        focused.append(page.evaluate(_FOCUSED))
    assert focused == ["Skip to main content", "Steward", "id_email", "id_password", "Continue"]
    screenshot(page, "backoffice-sign-in")


@pytest.fixture
def school(committed_db: None) -> Organisation:
    school = factories.school("Browser Primary", services_=("hosted_mis", "parent_portal"))
    with tenant_scope([school.id]):
        DataProtectionContact.objects.create(school=school, kind="dpo", name="Dee Protect", email="dpo@bp.invalid")
    return school


def test_a_schools_privacy_notices_are_accessible(page: Page, school: Organisation) -> None:
    page.goto(f"/privacy/{school.urn}/")
    assert page.get_by_role("heading", level=1).inner_text() == "How Browser Primary uses your information"
    assert_accessible(page)
    screenshot(page, "privacy-notices")

    page.get_by_role("link", name="Hosted MIS data").click()
    page.wait_for_url(f"**/privacy/{school.urn}/hosted_mis/")
    assert_accessible(page)
    screenshot(page, "privacy-notice-hosted-mis")


def test_a_notices_versions_and_diff_are_accessible(page: Page, school: Organisation) -> None:
    page.goto(f"/privacy/{school.urn}/hosted_mis/")  # records version 1
    with tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(
            school=school, kind="dpo", name="Nina Newcontact", email="nina@bp.invalid"
        )
    page.get_by_role("link", name="Earlier versions and what changed").click()
    page.wait_for_url(f"**/privacy/{school.urn}/hosted_mis/versions/")
    assert_accessible(page)
    screenshot(page, "privacy-notice-versions")

    page.get_by_role("link", name="What changed in version 2").click()
    page.wait_for_url(f"**/privacy/{school.urn}/hosted_mis/versions/2/diff/")
    assert page.get_by_text("Removed:").count() >= 1 and page.get_by_text("Added:").count() >= 1
    assert_accessible(page)
    screenshot(page, "privacy-notice-diff")

    page.goto(f"/privacy/{school.urn}/hosted_mis/versions/1/")
    assert "Dee Protect" in page.inner_text("main")
    assert_accessible(page)
