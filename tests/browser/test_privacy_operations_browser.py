"""The privacy operations pages (issue #6) in a real browser: every page passes axe (WCAG 2.2 AA, no
serious or critical violation) in the states its users meet it in, and a screenshot of each is kept.

- the back office's rights requests (the list, and one request of each kind in its working states),
  the school's portal settings, its consents and a staff user's marketing preference;
- the processor's contract terminations and a certificate of deletion, and the school's export;
- a parent's rights request form in the portal, with its errors, and the confirmation;
- the parent portal's privacy notice and its versions.

One data set per test, each test walking several pages: the server only sees committed rows, and
every committed test empties the database after it.
"""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from steward.audit.actor import Actor
from steward.consents import services as consents
from steward.consents.models import Consent
from steward.retention import termination
from steward.retention.models import ContractTermination
from steward.rights import services as rights
from steward.rights.models import RightsRequest
from steward.tenancy import services as tenancy_services
from steward.tenancy.models import Contract, DataProtectionContact, Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.portal.portal import FOCUSED, registered, reject_analytics, sign_in, switch_all_on
from tests.portal import families


def _check(page: Page, heading: str, shot: str) -> None:
    """The page's h1 is `heading`, axe finds nothing serious or critical, and a screenshot is kept."""
    assert page.locator("h1").inner_text() == heading, page.url
    assert_accessible(page)
    screenshot(page, shot)


def staff_sign_in(page: Page, user: User, school: Organisation | None = None) -> None:
    """The real two-step sign-in in the browser (password, then the current TOTP code); then, for a
    school's user, the school chosen."""
    page.goto("/sign-in/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/sign-in/verify/")
    page.get_by_label("Security code").fill(factories.current_code(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in/" not in page.url, page.inner_text("main")
    if school is not None:
        page.goto("/schools/")
        page.get_by_label(school.name).check()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/school/")


def _log(school: Organisation, kind: str, learner: str, *, days_ago: int = 1, checked: bool = True) -> RightsRequest:
    with tenant_scope([school.id]):
        logged = rights.request_log(
            school=school,
            kind=kind,
            subject_kind="learner",
            subject_id=families.learner_id(school, learner),
            subject_label={"L1": "Sam Jones", "L2": "Priya Shah", "L3": "Olu Jones"}[learner],
            requested_by="Alex Jones (parent)",
            received_on=timezone.localdate() - dt.timedelta(days=days_ago),
            actor=Actor.system("DPO"),
            note="My phone number is 01234 000000" if kind == "rectification" else "",
        )
        if checked:
            rights.request_mark_identity_checked(request=logged, actor=Actor.system("DPO"))
    return logged


@pytest.fixture
def school(committed_db: None) -> Organisation:
    """Sam (L1), Priya (L2) and Olu (L3, left) with their families, sent through the real ingest."""
    return families.family_school("Browser Primary")


def test_the_schools_rights_portal_consent_and_marketing_pages_are_accessible(page: Page, school: Organisation) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="admin@browser.invalid")
    fresh = _log(school, "access", "L1", checked=False)
    access = _log(school, "access", "L1", days_ago=45)  # overdue
    erasure = _log(school, "erasure", "L2")
    restriction = _log(school, "restriction", "L3")
    lifted = _log(school, "restriction", "L1")
    with tenant_scope([school.id]):
        rights.restriction_apply(request=lifted, restricted=True, actor=Actor.system("DPO"))
    rectification = _log(school, "rectification", "L1")
    with tenant_scope([school.id]):
        consents.consent_give(
            school=school,
            given_by=admin,
            kind="standing",
            recipient=Consent.Recipient.PROCESSOR,
            record_types=["learners"],
            actor=Actor.of_user(admin),
        )
    staff_sign_in(page, admin, school)

    page.goto("/school/rights/")
    _check(page, "Subject rights requests", "backoffice-rights")
    assert page.get_by_text("Overdue").count() >= 1
    page.get_by_role("button", name="Log the request").click()  # empty: errors
    page.get_by_text("There is a problem").wait_for()
    _check(page, "Subject rights requests", "backoffice-rights-errors")

    page.goto(f"/school/rights/{fresh.id}/")
    _check(page, f"Access (Art. 15) request {fresh.id}", "backoffice-rights-identity")

    page.goto(f"/school/rights/{access.id}/")
    _check(page, f"Access (Art. 15) request {access.id}", "backoffice-rights-access")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download a copy to read").click()
    saved = download.value.path()
    assert set(zipfile.ZipFile(saved).namelist()) == {"bundle.html", "bundle.json", "README.txt"}
    # The PDF follows: queued for the task worker; the progress page says so, with a link to check again.
    page.reload()
    expect(page.locator("#bundle-pdf")).to_contain_text("PDF being prepared")
    page.get_by_role("link", name="Follow its progress").click()
    _check(page, "PDF of the access bundle", "backoffice-rights-access-pdf-pending")
    from tests.browser.test_provisioning_browser import run_worker_once  # it imports this module

    run_worker_once()
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("#bundle-pdf")).to_contain_text("PDF ready")
    _check(page, "PDF of the access bundle", "backoffice-rights-access-pdf-ready")
    with page.expect_download() as pdf:
        page.get_by_role("link", name="Download the PDF").click()
    assert pdf.value.path().read_bytes().startswith(b"%PDF")

    page.goto(f"/school/rights/{erasure.id}/")
    _check(page, f"Erasure (Art. 17) request {erasure.id}", "backoffice-rights-erasure-preview")
    assert page.get_by_role("table", name="Deleted").is_visible()
    page.get_by_role("button", name="Erase").click()  # not confirmed: refused, nothing changed
    page.get_by_text("There is a problem: nothing was changed").wait_for()
    # the summary links to the box left unticked, which carries the error too
    page.get_by_role("link", name="Confirm that you have read what will be deleted").click()
    assert page.evaluate(FOCUSED) == "confirm"
    box = page.get_by_label("I have read what will be deleted", exact=False)
    assert box.get_attribute("aria-describedby") == "confirm-error"
    assert "Confirm that you have read" in page.locator("#confirm-error").inner_text()
    _check(page, f"Erasure (Art. 17) request {erasure.id}", "backoffice-rights-erasure-error")

    page.goto(f"/school/rights/{restriction.id}/")
    _check(page, f"Restriction (Art. 18) request {restriction.id}", "backoffice-rights-restriction")
    page.goto(f"/school/rights/{lifted.id}/")
    assert page.get_by_role("button", name="Lift the restriction").is_visible()
    _check(page, f"Restriction (Art. 18) request {lifted.id}", "backoffice-rights-restriction-completed")

    page.goto(f"/school/rights/{rectification.id}/")
    _check(page, f"Rectification (Art. 16) request {rectification.id}", "backoffice-rights-rectification")

    page.goto("/school/portal/")
    _check(page, "Parent portal", "backoffice-school-portal")
    page.goto("/school/consents/")
    _check(page, "Consents and agreements", "backoffice-consents")
    choices = page.get_by_role("group", name="Records the copy may hold")
    assert choices.get_by_role("checkbox").count() > 5  # every option in view as a checkbox, not a multi-select
    assert choices.get_by_role("checkbox", name="Pupils", exact=True).is_visible()
    page.goto("/account/marketing/")
    _check(page, "News from the ICT service", "backoffice-account-marketing")


def test_a_rights_request_can_be_answered_with_the_keyboard_alone(page: Page, school: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@browser.invalid")
    logged = _log(school, "access", "L1", checked=False)
    staff_sign_in(page, dpo, school)
    page.goto(f"/school/rights/{logged.id}/")

    stops: list[str] = []
    while not stops or stops[-1] != "Identity checked":
        assert len(stops) < 30, f"the action button was not reached with Tab: {stops}"
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    assert "All rights requests" in stops  # the back link comes first, in reading order
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/school/rights/{logged.id}/?done=identity")
    assert page.get_by_role("button", name="Download a copy to read").is_visible()
    assert "Checked" in page.get_by_role("definition").nth(4).inner_text()
    with tenant_scope([school.id]):
        assert RightsRequest.objects.get(pk=logged.pk).identity_checked


def test_terminations_the_certificate_and_the_schools_export(page: Page, committed_db: None) -> None:
    # The export is written to the session's termination folder, where the test server reads it too.
    ending = factories.school("Ending Primary")
    families.send(ending, families.family_records(), mode="full")
    purged = factories.school("Gone Primary")
    staying = factories.school("Staying Primary")
    staying_admin = factories.user(Role.SCHOOL_ADMIN, staying, email="admin@staying.invalid")
    school_admin = factories.user(Role.SCHOOL_ADMIN, ending, email="admin@ending.invalid")
    processor_admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="ops@ict.invalid")
    termination.termination_start(
        contract=Contract.objects.get(school=ending), requested_by="ops", reason="The school is joining a trust"
    )
    gone = termination.termination_start(
        contract=Contract.objects.get(school=purged), requested_by="ops", reason="The school is joining a trust"
    )
    termination.termination_purge(termination=gone, confirmed_by="ops", override_window=True)

    staff_sign_in(page, processor_admin)
    page.goto("/processor/terminations/")
    _check(page, "Contract terminations", "backoffice-processor-terminations")
    page.get_by_role("link", name="certificate").click()
    page.wait_for_url(f"**/processor/terminations/{gone.pk}/certificate/")
    _check(page, "Certificate of deletion", "backoffice-termination-certificate")

    # a school with no export waiting gets the (accessible) not-found page
    page.context.clear_cookies()
    staff_sign_in(page, staying_admin, staying)
    response = page.goto("/school/export/")
    assert response is not None and response.status == 404
    assert_accessible(page)
    screenshot(page, "backoffice-school-export-none")

    # the school's export is a download, not a page: it arrives, and is the school's zip
    page.context.clear_cookies()
    staff_sign_in(page, school_admin, ending)
    with page.expect_download() as download:
        page.evaluate("() => { window.location.href = '/school/export/'; }")
    assert download.value.suggested_filename == f"steward-export-{ending.urn}.zip"
    assert zipfile.is_zipfile(download.value.path())
    with processor_scope():  # terminations are the processor's records
        assert ContractTermination.objects.filter(school=ending, purged_at__isnull=True).exists()


def test_a_parents_rights_request_pages_are_accessible(page: Page, school: Organisation, server_url: str) -> None:
    switch_all_on(school)
    registered(school, "C1", "Alex Jones", server_url)
    page.goto("/portal/sign-in/")
    reject_analytics(page)
    sign_in(page, "alex@example.invalid")

    page.goto("/portal/account/requests/new/")
    _check(page, "Make a data protection request", "portal-rights-request")
    page.get_by_role("button", name="Send the request").click()  # nothing chosen: errors
    page.get_by_text("There is a problem").wait_for()
    _check(page, "Make a data protection request", "portal-rights-request-errors")
    page.get_by_label("Access (Art. 15)").check()
    page.get_by_label("Sam Jones").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert "Request sent" in page.locator("h1").inner_text()
    assert_accessible(page)
    screenshot(page, "portal-rights-request-sent")
    with tenant_scope([school.id]):
        assert RightsRequest.objects.filter(kind="access", subject_kind="learner").count() == 1


def test_the_parent_portal_notice_and_its_versions_are_accessible(page: Page, committed_db: None) -> None:
    school = factories.school("Notice Primary", services_=("hosted_mis", "parent_portal"))
    with tenant_scope([school.id]):
        DataProtectionContact.objects.create(school=school, kind="dpo", name="Dee Protect", email="dpo@np.invalid")
    page.goto(f"/privacy/{school.urn}/parent_portal/")  # records version 1
    assert_accessible(page)
    screenshot(page, "privacy-notice-parent-portal")
    with tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(
            school=school, kind="dpo", name="Nina Newcontact", email="nina@np.invalid"
        )
    page.get_by_role("link", name="Earlier versions and what changed").click()
    page.wait_for_url(f"**/privacy/{school.urn}/parent_portal/versions/")
    assert_accessible(page)
    screenshot(page, "privacy-notice-parent-portal-versions")
    page.get_by_role("link", name="What changed in version 2").click()
    page.wait_for_url(f"**/privacy/{school.urn}/parent_portal/versions/2/diff/")
    assert "Nina Newcontact" in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "privacy-notice-parent-portal-diff")
