"""The main pages of each role in a real browser pass axe (WCAG 2.2 AA: no serious or critical
violation), with the menu marking the page the user is on, in the authorization matrix's world: a
school with every kind of record, flow, request, consent and termination.

Roles: a school administrator, a school DPO, the processor's admin and support staff, and a parent.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.portal.portal import reject_analytics
from tests.browser.portal.portal import sign_in as parent_sign_in
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.security.test_authorization_matrix import World
from tests.security.test_authorization_matrix import world as world  # noqa: F401  (the fixture)

# (menu entry marked as current, path) for the main pages of each role.
MAIN_PAGES = {
    "school_admin": [
        ("Home", "/school/"),
        ("Register", "/school/register/"),
        ("People", "/school/people/"),
        ("MIS batches", "/school/batches/"),
        ("Data sharing", "/school/flows/"),
        ("Rights requests", "/school/rights/"),
        ("Consents", "/school/consents/"),
        ("Parent portal", "/school/portal/"),
        ("Audit log", "/school/audit/"),
        ("Staff sessions", "/school/sessions/"),
    ],
    "school_dpo": [
        ("Home", "/school/"),
        ("Register", "/school/register/"),
        ("Data sharing", "/school/flows/"),
        ("Rights requests", "/school/rights/"),
        ("Audit log", "/school/audit/"),
    ],
    "processor_admin": [
        ("Schools with problems", "/processor/"),
        ("Schools", "/processor/schools/"),
        ("Contracts", "/processor/contracts/"),
        ("Processing register", "/processor/register/"),
        ("Record a flow request", "/processor/flow-requests/new/"),
        ("Audit log", "/processor/audit/"),
        ("Terminations", "/processor/terminations/"),
        ("All staff sessions", "/processor/sessions/"),
    ],
    "processor_support": [
        ("Schools", "/processor/schools/"),
        ("Record a flow request", "/processor/flow-requests/new/"),
    ],
    "parent": [
        ("Your children", "/portal/"),
        ("Your account", "/portal/account/"),
        ("Your account", "/portal/account/sessions/"),
    ],
}


@pytest.mark.parametrize("role", list(MAIN_PAGES))
def test_the_main_pages_of_each_role_pass_axe(role: str, page: Page, world: World) -> None:  # noqa: F811
    if role == "parent":
        parent_sign_in(page, world.parent_email)
        reject_analytics(page)
    else:
        staff_sign_in(page, world.users[role])  # a one-school user lands in their school unasked
        if role.startswith("school"):
            assert page.url.endswith("/school/"), page.url
    for current, path in MAIN_PAGES[role]:
        page.goto(path)
        marked = page.locator('#navigation a[aria-current="page"]')
        assert marked.count() == 1 and marked.inner_text() == current, (path, marked.all_inner_texts())
        assert_accessible(page)
        screenshot(page, f"main-{role}-{path.strip('/').replace('/', '-') or 'home'}")
    # The styled refusal a role meets when it follows an old link: no bare 403.
    if role == "school_dpo":
        page.goto("/school/portal/")
        assert page.locator("h1").inner_text() == "You do not have access to this page"
        assert_accessible(page)
