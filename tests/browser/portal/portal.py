"""Helpers for the portal's browser tests: school switches, invitations read from the email that was
really sent, and signing in as a parent the way a parent does."""

from __future__ import annotations

import re

from django.core import mail
from django.test import TestCase
from playwright.sync_api import Page

from steward.portal.items import SWITCHES
from steward.portal.models import ParentAccount, PortalSettings
from steward.portal.services import eligible_contacts, invitation_accept, invite_contacts
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.notify_fixtures import SmtpSink
from tests.portal.families import PARENT_PASSWORD

INVITATION_LINK = re.compile(r"https?://\S+/portal/invitation/[^/\s]+/")

# Every item page a child can have (details is the child's own page).
ITEM_PAGES = ("school", "homework", "diary", "attendance", "lessons", "achievements", "behaviour")

# What the client-side script says about focus: the element's id, else its text.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "(body)";
  return el.id || (el.textContent || "").trim();
}"""


def switch(school: Organisation, **values: bool) -> None:
    """Set the school's portal switches (the rest keep their value; new settings start off)."""
    with tenant_scope([school.id]):
        PortalSettings.objects.update_or_create(school=school, defaults=values)


def switch_all_on(school: Organisation) -> None:
    switch(school, **dict.fromkeys(SWITCHES, True))


def invitation_link(body: str) -> str:
    match = INVITATION_LINK.search(body)
    assert match, body
    return match.group(0)


def invite(school: Organisation, contact_source_id: str, base_url: str, sink: SmtpSink | None = None) -> str:
    """Invite one contact through the service; return the link from the email they received (over
    SMTP when the test uses `smtp_sink`, else from Django's test outbox)."""
    before = len(sink.messages) if sink else 0
    with TestCase.captureOnCommitCallbacks(execute=True), tenant_scope([school.id]):
        contacts = eligible_contacts(school.id).filter(source_id=contact_source_id)
        report = invite_contacts(school=school, contacts=contacts, invited_by=None, base_url=base_url)
    assert report.sent, f"{contact_source_id} could not be invited"
    body = sink.wait_for(before + 1)[-1].body if sink else str(mail.outbox[-1].body)
    return invitation_link(body)


def registered(
    school: Organisation, contact_source_id: str, name: str, base_url: str, sink: SmtpSink | None = None
) -> ParentAccount:
    """A parent who accepted their invitation (through the service, not the browser)."""
    token = invitation_link(invite(school, contact_source_id, base_url, sink)).rstrip("/").rsplit("/", 1)[-1]
    return invitation_accept(token=token, full_name=name, password=PARENT_PASSWORD)


def reject_analytics(page: Page) -> None:
    """Answer the cookie banner on the current page: analytics rejected."""
    with page.expect_navigation():
        page.get_by_role("button", name="Reject analytics cookies").click()


def sign_in(page: Page, email: str, password: str = PARENT_PASSWORD) -> None:
    """Sign in on the portal's sign-in page; ends on the children list."""
    page.goto("/portal/sign-in/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/portal/")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/sign-in/")


PHONE = {"width": 390, "height": 844}


def assert_fits_phone(page: Page) -> None:
    """The page, at the 390 px a phone gives it, needs no sideways scrolling."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px screen"
