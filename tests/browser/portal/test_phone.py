"""The portal on a 390 px phone: a parent signs in (getting the code wrong once), opens a child, reads
this school year's attendance and chart, and switches to the last school year; and no portal page
needs sideways scrolling at that width.

The test server keeps the real clock, so the marks are placed relative to today as the families'
are: this year's two marks of last week (one late), and two marks in June of the last school year.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from steward.portal.attendance import years_offered
from steward.portal.models import ParentAccount
from steward.tenancy.models import Organisation
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.portal.portal import (
    ITEM_PAGES,
    PHONE,
    assert_fits_phone,
    invite,
    registered,
    reject_analytics,
    sign_in,
    switch,
    switch_all_on,
)
from tests.ingest import builders as b
from tests.portal.families import PARENT_PASSWORD, learner_id, send

TOTP_KEY = "3132333435363738393031323334353637383930"


def _last_years_marks(school: Organisation, today: dt.date) -> None:
    """Sam: present in the morning, ill in the afternoon, on a weekday in June of the last school year."""
    day = years_offered(today)[0].start - dt.timedelta(days=80)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    send(
        school, {"session-attendance": [b.mark("L1", day.isoformat(), "AM"), b.mark("L1", day.isoformat(), "PM", "I")]}
    )


def _check(page: Page, shot: str = "") -> None:
    assert_fits_phone(page)
    assert_accessible(page)
    if shot:
        screenshot(page, shot)


def test_a_parent_on_a_phone_reads_this_years_and_last_years_attendance(
    page: Page, school: Organisation, server_url: str
) -> None:
    today = timezone.localdate()
    this, last = years_offered(today)
    _last_years_marks(school, today)
    switch(school, show_session_attendance=True)
    registered(school, "C1", "Alex Jones", server_url)
    ParentAccount.objects.filter(email="alex@example.invalid").update(totp_key=TOTP_KEY, totp_confirmed=True)
    page.set_viewport_size(PHONE)

    page.goto("/portal/sign-in/")
    reject_analytics(page)
    _check(page)
    page.get_by_label("Email address").fill("alex@example.invalid")
    page.get_by_label("Password").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/portal/sign-in/code/")
    right = TOTP(bytes.fromhex(TOTP_KEY)).token()
    page.get_by_label("Security code").fill(f"{(right + 500_000) % 1_000_000:06d}")  # a wrong code
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("There is a problem")).to_be_visible()
    _check(page, "phone-sign-in-code-error")
    page.get_by_label("Security code").fill(f"{TOTP(bytes.fromhex(TOTP_KEY)).token():06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/portal/")
    _check(page, "phone-children")

    page.get_by_role("link", name="Sam Jones").click()
    page.wait_for_url(f"**/portal/children/{learner_id(school, 'L1')}/")
    main = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Jones")
    expect(main).to_contain_text(f"100.0% attendance in {this.label}")
    expect(main).to_contain_text("2 of 2 possible sessions attended. Late 1 time, 12 minutes in all.")
    chart = page.get_by_role("img", name=f"Attendance by month, {this.label}")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] <= PHONE["width"]  # type: ignore[index]
    expect(page.get_by_role("table", name=f"Attendance by month, {this.label}")).to_be_visible()
    _check(page, "phone-child")

    page.get_by_role("link", name=f"Last school year ({last.label})").click()
    page.wait_for_url(f"**/attendance/?year={last.start.year}")
    expect(page.get_by_role("heading", level=2, name=f"Last school year: {last.label}")).to_be_visible()
    expect(main).to_contain_text(f"50.0% attendance in {last.label}")
    expect(main).to_contain_text("1 of 2 possible sessions attended.")
    expect(page.get_by_role("img", name=f"Attendance by month, {last.label}")).to_be_visible()
    year_switch = page.get_by_role("navigation", name="School year")
    expect(year_switch.get_by_role("link", name=f"Last school year ({last.label})")).to_have_attribute(
        "aria-current", "page"
    )
    _check(page, "phone-attendance-last-year")

    year_switch.get_by_role("link", name=f"This school year ({this.label})").click()
    page.wait_for_url("**/attendance/")
    expect(main).to_contain_text(f"100.0% attendance in {this.label}")
    _check(page, "phone-attendance-this-year")


def test_no_portal_page_scrolls_sideways_on_a_390_px_phone(page: Page, school: Organisation, server_url: str) -> None:
    switch_all_on(school)
    _last_years_marks(school, timezone.localdate())
    last = years_offered(timezone.localdate())[1]
    sam = learner_id(school, "L1")
    page.set_viewport_size(PHONE)

    page.goto("/portal/sign-in/")  # with the cookie banner
    assert_fits_phone(page)
    reject_analytics(page)
    page.get_by_label("Email address").fill("nobody@example.invalid")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("There is a problem").wait_for()
    assert_fits_phone(page)
    page.goto("/portal/invitation/not-a-token/")
    assert_fits_phone(page)
    page.goto(invite(school, "C1", server_url))
    assert_fits_phone(page)
    page.get_by_label("Your full name").fill("Alex Jones")
    page.get_by_label("Create a password").fill(PARENT_PASSWORD)
    page.get_by_label("Type the password again").fill("something-else-entirely")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("There is a problem").wait_for()
    assert_fits_phone(page)
    page.get_by_label("Create a password").fill(PARENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PARENT_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/portal/")

    pages = [
        "/portal/",
        f"/portal/children/{sam}/",
        *(f"/portal/children/{sam}/{code}/" for code in ITEM_PAGES),
        f"/portal/children/{sam}/attendance/?year={last.start.year}",
        f"/portal/children/{sam}/attendance/?year=1999",  # refused: a 400 page
        f"/portal/children/{learner_id(school, 'L2')}/",  # another family's child: not found
        "/portal/account/",
        "/portal/account/two-factor/",
        "/portal/account/requests/new/",
        "/portal/account/close/",
        "/portal/cookies/",
    ]
    for url in pages:
        page.goto(url)
        assert_fits_phone(page)
        screenshot(page, "phone" + url.replace("/", "-").replace("?", "-").rstrip("-"))
    page.goto("/portal/account/")
    page.get_by_role("link", name="Ask Browser Primary to correct your details").click()
    page.get_by_role("button", name="Send to the school").click()  # empty: an error
    page.get_by_text("There is a problem").wait_for()
    assert_fits_phone(page)

    registered(school, "C2", "Raj Shah", server_url)
    page.context.clear_cookies()
    sign_in(page, "raj@example.invalid")  # a second parent, for a page with no attendance marks yet
    page.goto(f"/portal/children/{learner_id(school, 'L2')}/")
    assert_fits_phone(page)
