"""The cookie policy lists every cookie the portal really sets, the analytics cookie is set only with
consent, and the consent choice is remembered across pages of the same browser."""

from __future__ import annotations

from django.conf import settings
from playwright.sync_api import Browser, Page

from steward.portal.cookies import ANALYTICS_COOKIE, POLICY_COOKIE
from steward.portal.models import PortalPageViews
from steward.tenancy.models import Organisation
from tests.browser.portal.portal import ITEM_PAGES, registered, reject_analytics, sign_in, switch_all_on
from tests.portal.families import learner_id


def _listed(page: Page) -> set[str]:
    """The cookie names in the tables of the cookie policy page."""
    page.goto("/portal/cookies/")
    return {name.strip() for name in page.locator("table td:first-child").all_inner_texts()}


def _browse(page: Page, sam: int) -> None:
    for url in ["/portal/", f"/portal/children/{sam}/", f"/portal/children/{sam}/{ITEM_PAGES[1]}/", "/portal/account/"]:
        response = page.goto(url)
        assert response is not None and response.ok, url


def _received(page: Page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def test_the_cookie_policy_lists_every_cookie_the_portal_sets(
    page: Page, browser: Browser, school: Organisation, server_url: str
) -> None:
    registered(school, "C1", "Alex Jones", server_url)
    switch_all_on(school)
    sam = learner_id(school, "L1")

    page.goto("/portal/sign-in/")
    reject_analytics(page)
    assert page.get_by_role("region", name="Cookies on the parent portal").count() == 0
    second = page.context.new_page()  # the choice holds in another tab of the same browser
    second.goto("/portal/cookies/")
    assert second.get_by_role("region", name="Cookies on the parent portal").count() == 0
    assert second.get_by_label("No").is_checked()
    second.close()

    sign_in(page, "alex@example.invalid")
    _browse(page, sam)
    received = _received(page)
    listed = _listed(page)
    assert ANALYTICS_COOKIE not in received
    assert {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, POLICY_COOKIE} <= received
    assert received <= listed, f"not on the cookie policy: {received - listed}"
    assert not PortalPageViews.objects.exists()  # nothing counted without consent

    # accepting on the cookie policy page: browsing now sets the analytics cookie, which is listed
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Save cookie settings").click()
    page.get_by_text("Your cookie settings are saved.").wait_for()
    _browse(page, sam)
    received = _received(page)
    assert ANALYTICS_COOKIE in received
    assert received <= _listed(page), f"not on the cookie policy: {received - _listed(page)}"
    assert PortalPageViews.objects.filter(page="child").exists()

    # rejecting again removes it
    page.get_by_label("No").check()
    page.get_by_role("button", name="Save cookie settings").click()
    page.get_by_text("Your cookie settings are saved.").wait_for()
    assert ANALYTICS_COOKIE not in _received(page)

    # in a fresh browser, accepting on the banner does the same
    context = browser.new_context(base_url=server_url, locale="en-GB", timezone_id="Europe/London")
    try:
        fresh = context.new_page()
        fresh.goto("/portal/sign-in/")
        with fresh.expect_navigation():
            fresh.get_by_role("button", name="Accept analytics cookies").click()
        assert fresh.get_by_role("region", name="Cookies on the parent portal").count() == 0
        sign_in(fresh, "alex@example.invalid")
        _browse(fresh, sam)
        received = _received(fresh)
        assert ANALYTICS_COOKIE in received
        assert received <= _listed(fresh), f"not on the cookie policy: {received - _listed(fresh)}"
    finally:
        context.close()
