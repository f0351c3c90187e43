"""Every page of the parent portal passes axe (WCAG 2.2 AA: no serious or critical violation), in the
states a parent meets them in: with the cookie banner, with errors, with every item switched on."""

from __future__ import annotations

from django_otp.oath import TOTP
from playwright.sync_api import Page

from steward.portal.models import ParentAccount, ParentLink
from steward.tenancy.models import Organisation
from steward.tenancy.scope import processor_scope
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.portal.portal import ITEM_PAGES, invite, reject_analytics, switch_all_on
from tests.portal.families import PARENT_PASSWORD, family_school, learner_id


def _check(page: Page, heading: str, shot: str = "") -> None:
    """The page shows `heading` as its h1 and has no serious or critical axe violation."""
    assert page.locator("h1").inner_text() == heading, page.url
    assert_accessible(page)
    if shot:
        screenshot(page, shot)


def test_every_portal_page_is_accessible(page: Page, school: Organisation, server_url: str) -> None:
    switch_all_on(school)
    sam = learner_id(school, "L1")

    # before any choice: the banner is on every portal page
    page.goto("/portal/sign-in/")
    assert page.get_by_role("region", name="Cookies on the parent portal").is_visible()
    _check(page, "Sign in to the parent portal")
    reject_analytics(page)
    assert page.get_by_role("region", name="Cookies on the parent portal").count() == 0
    _check(page, "Sign in to the parent portal")

    page.get_by_label("Email address").fill("nobody@example.invalid")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("There is a problem").wait_for()
    _check(page, "Sign in to the parent portal", "portal-sign-in-error")

    response = page.goto("/portal/invitation/not-a-token/")
    assert response is not None and response.status == 404
    _check(page, "This invitation link cannot be used", "portal-invitation-invalid")

    page.goto(invite(school, "C1", server_url))
    _check(page, "Create your parent portal account")
    page.get_by_label("Your full name").fill("Alex Jones")
    page.get_by_label("Create a password").fill(PARENT_PASSWORD)
    page.get_by_label("Type the password again").fill("something-else-entirely")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("There is a problem").wait_for()
    _check(page, "Create your parent portal account", "portal-invitation-error")
    page.get_by_label("Create a password").fill(PARENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/portal/")

    _check(page, "Your children")
    page.goto(f"/portal/children/{sam}/")
    _check(page, "Sam Jones")
    for code in ITEM_PAGES:
        page.goto(f"/portal/children/{sam}/{code}/")
        assert_accessible(page)
        screenshot(page, f"portal-item-{code}")

    page.goto("/portal/account/")
    _check(page, "Your account")
    page.goto("/portal/account/two-factor/")
    _check(page, "Turn on two-factor sign-in", "portal-two-factor")
    page.goto("/portal/account/")
    page.get_by_role("link", name="Ask Browser Primary to correct your details").click()
    _check(page, "Ask the school to correct your contact details", "portal-correction")
    page.get_by_role("button", name="Send to the school").click()  # empty: an error
    page.get_by_text("There is a problem").wait_for()
    _check(page, "Ask the school to correct your contact details")
    page.get_by_label("What is wrong, and what should it say?").fill("My phone number is now 01234 000000.")
    page.get_by_role("button", name="Send to the school").click()
    page.get_by_text("Request sent").wait_for()
    _check(page, "Request sent", "portal-correction-sent")
    page.goto("/portal/account/close/")
    _check(page, "Close your parent portal account", "portal-close-account")
    page.goto("/portal/cookies/")
    _check(page, "Cookies on the parent portal")
    response = page.goto(f"/portal/children/{learner_id(school, 'L2')}/")
    assert response is not None and response.status == 404
    _check(page, "Page not found")

    # an invitation from a second school to the same email address: sign in to add it
    other = family_school("Second Primary")
    page.goto(invite(other, "C1", server_url))
    _check(page, "Add Second Primary to your account", "portal-invitation-existing-account")

    # with two-factor on, signing in asks for a code
    key = "3132333435363738393031323334353637383930"
    ParentAccount.objects.filter(email="alex@example.invalid").update(totp_key=key, totp_confirmed=True)
    page.context.clear_cookies()
    page.goto("/portal/sign-in/")
    reject_analytics(page)
    page.get_by_label("Email address").fill("alex@example.invalid")
    page.get_by_label("Password").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/portal/sign-in/code/")
    _check(page, "Enter your security code", "portal-sign-in-code")
    page.get_by_label("Security code").fill(f"{TOTP(bytes.fromhex(key)).token():06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/portal/")
    page.goto("/portal/account/two-factor/")
    _check(page, "Turn off two-factor sign-in")

    # closing the account
    page.goto("/portal/account/close/")
    with page.expect_navigation():
        page.get_by_role("button", name="Close my account").click()
    _check(page, "Your account is closed", "portal-closed")
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not ParentLink.objects.filter(parent__email="alex@example.invalid").exists()
