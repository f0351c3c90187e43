"""The portal works with the keyboard alone: the cookie banner, signing in, opening a child and moving
between the child's items, with focus where a keyboard user expects it."""

from __future__ import annotations

from playwright.sync_api import Page

from steward.tenancy.models import Organisation
from tests.browser.portal.portal import FOCUSED, registered, switch
from tests.portal.families import PARENT_PASSWORD, learner_id


def _tab_to(page: Page, target: str, limit: int = 25) -> list[str]:
    """Press Tab until `target` (an id or a text, as FOCUSED gives) has focus; return every stop."""
    stops: list[str] = []
    while not stops or stops[-1] != target:
        assert len(stops) < limit, f"{target!r} not reached with Tab: {stops}"
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    return stops


def test_a_parent_can_use_the_portal_with_the_keyboard_alone(page: Page, school: Organisation, server_url: str) -> None:
    registered(school, "C1", "Alex Jones", server_url)
    switch(school, show_achievements=True)
    sam = learner_id(school, "L1")

    page.goto("/portal/sign-in/")
    stops = _tab_to(page, "Reject analytics cookies")
    assert stops == ["Skip to main content", "Steward", "Accept analytics cookies", "Reject analytics cookies"]
    with page.expect_navigation():  # back to the same page, the choice remembered
        page.keyboard.press("Enter")
    assert page.get_by_role("region", name="Cookies on the parent portal").count() == 0

    assert _tab_to(page, "id_email") == ["Skip to main content", "Steward", "id_email"]
    page.keyboard.type("alex@example.invalid")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "id_password"
    page.keyboard.type(PARENT_PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/")

    stops = _tab_to(page, "Sam Jones")
    assert stops == [
        "Skip to main content",
        "Steward",
        "Your children",
        "Your account",
        "Your sessions",
        "Sign out",
        "Sam Jones",
    ]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/children/{sam}/")

    stops = _tab_to(page, "Homework")
    header = ["Skip to main content", "Steward", "Your children", "Your account", "Your sessions", "Sign out"]
    breadcrumbs = ["Your children", "Sam Jones"]
    assert stops == [*header, *breadcrumbs, "Overview", "School", "Homework"]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/children/{sam}/homework/")
    assert page.locator("h1").inner_text() == "Homework"
    assert page.get_by_role("link", name="Homework", exact=True).get_attribute("aria-current") == "page"

    stops = _tab_to(page, "Achievements")
    assert stops == [*header, *breadcrumbs, "Overview", "School", "Homework", "Achievements"]  # no behaviour: off
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/portal/children/{sam}/achievements/")
    assert "Star of the week" in page.inner_text("main")

    # the footer's cookie link is reachable too, after the page's content
    stops = _tab_to(page, "Cookies")
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/cookies/")
