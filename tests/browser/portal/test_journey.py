"""A parent's first visit, end to end in a real browser: the school invites them from the back office,
the invitation arrives by email at a real SMTP server, and the parent registers from its link, signs in,
sees their child and only what the school switched on; another parent cannot reach that child by URL."""

from __future__ import annotations

from playwright.sync_api import Page

from steward.tenancy.models import Organisation, Role
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.portal.portal import ITEM_PAGES, invitation_link, registered, reject_analytics, sign_in, sign_out
from tests.browser.portal.portal import switch as set_switches
from tests.notify_fixtures import SmtpSink
from tests.portal.families import PARENT_PASSWORD, learner_id


def _admin_invites(page: Page, school: Organisation, contact_source_id: str) -> None:
    """A school admin signs in to the back office (password, then TOTP code) and invites one contact."""
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="admin@browser-primary.invalid")
    page.goto("/sign-in/")
    page.locator("#id_email").fill(admin.email)
    page.locator("#id_password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/sign-in/verify/")
    page.locator("#id_token").fill(factories.current_code(admin))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/school/")  # a one-school admin lands in their school, the choice audited
    page.goto("/school/portal/")
    assert page.locator("h1").inner_text() == "Parent portal"
    page.get_by_label("Parents and carers I choose").check()
    page.locator(f"input[name=contacts][value={contact_source_id}]").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="You are about to invite 1 parent you chose").wait_for()
    page.get_by_role("button", name="Send 1 invitation").click()
    page.get_by_text("1 invitation sent to parents you chose.").wait_for()
    page.context.clear_cookies()  # the parent's browser knows nothing of the admin


def test_invited_parent_registers_signs_in_and_sees_only_what_the_school_shares(
    page: Page, school: Organisation, smtp_sink: SmtpSink, server_url: str
) -> None:
    set_switches(school, show_achievements=True, show_behaviour=False)
    _admin_invites(page, school, "C1")

    [email] = [m for m in smtp_sink.wait_for(1) if "alex@example.invalid" in m.rcpt_tos]
    link = invitation_link(email.body)
    assert link.startswith(server_url)

    page.goto(link)
    screenshot(page, "portal-cookie-banner")
    reject_analytics(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Create your parent portal account"
    page.get_by_label("Your full name").fill("Alex Jones")
    page.get_by_label("Create a password").fill(PARENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PARENT_PASSWORD)
    screenshot(page, "portal-invitation")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/portal/")

    # registering signed Alex in: sign out and in again, as on any later visit
    sign_out(page)
    screenshot(page, "portal-sign-in")
    sign_in(page, "alex@example.invalid")
    assert page.get_by_role("heading", level=1).inner_text() == "Your children"
    assert page.get_by_role("link", name="Sam Jones").is_visible()
    assert "Priya" not in page.content()
    screenshot(page, "portal-children")

    page.get_by_role("link", name="Sam Jones").click()
    sam = learner_id(school, "L1")
    page.wait_for_url(f"**/portal/children/{sam}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sam Jones"
    screenshot(page, "portal-child-details")

    navigation = page.get_by_role("navigation", name="Sam Jones")
    labels = [label.strip() for label in navigation.get_by_role("link").all_inner_texts()]
    assert "Achievements" in labels and "Homework" in labels
    assert "Behaviour" not in labels  # switched off by the school
    for label in labels[1:]:
        with page.expect_navigation():
            navigation.get_by_role("link", name=label, exact=True).click()
        assert page.get_by_role("heading", level=1).inner_text() == label
        code = page.url.rstrip("/").rsplit("/", 1)[-1]
        assert code in ITEM_PAGES
        screenshot(page, f"portal-item-{code}")

    response = page.goto(f"/portal/children/{sam}/behaviour/")
    assert response is not None and response.status == 404
    assert "Disruption" not in page.content()

    page.goto("/portal/cookies/")
    screenshot(page, "portal-cookies")
    page.goto("/portal/account/")
    screenshot(page, "portal-account")
    sign_out(page)

    # another family's parent, signed in, cannot open Sam's pages by URL
    registered(school, "C2", "Raj Shah", server_url, smtp_sink)
    sign_in(page, "raj@example.invalid")
    assert page.get_by_role("link", name="Priya Shah").is_visible()
    set_switches(school, show_behaviour=True)
    for url in [f"/portal/children/{sam}/", *(f"/portal/children/{sam}/{code}/" for code in ITEM_PAGES)]:
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        assert "Sam" not in page.inner_text("body"), url
    screenshot(page, "portal-not-found")
