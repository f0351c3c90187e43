"""Two journeys where a slip harms people, walked in a real browser (issue #12).

- A school admin invites a year group, makes the reported mistake on the way (no year chosen), keeps
  their choice, sees "You are about to invite N parents of Year 4" with the list, and sends.
- A processor admin ends a contract: a missing reason is refused at the field, the confirmation page
  says what will happen and when, the school's admins and DPO are emailed (a real SMTP server), and
  the school's home page links its export, which downloads.
"""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from steward.portal.models import PortalInvitation
from steward.retention import termination
from steward.retention.models import ContractTermination
from steward.tenancy.models import Contract, Organisation, Role
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import staff_sign_in
from tests.notify_fixtures import SmtpSink
from tests.portal import families


@pytest.fixture
def school(committed_db: None) -> Organisation:
    """Sam (L1, Year 4, parent Alex C1) and Priya (L2, Year 5, parent Raj C2), through the real ingest."""
    return families.family_school("Journey Primary")


@pytest.mark.dates  # the families are on roll relative to today
def test_inviting_a_year_group_with_an_error_on_the_way(page: Page, school: Organisation, smtp_sink: SmtpSink) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="admin@journey.invalid")
    staff_sign_in(page, admin, school)
    page.goto("/school/portal/")
    year_choice = page.get_by_label("A year group")
    year_select = page.get_by_label("Year group", exact=True)
    expect(year_select).to_be_hidden()  # revealed only with its choice
    year_choice.check()
    expect(year_select).to_be_visible()
    page.get_by_role("button", name="Continue").click()

    # The error is at the field, and the choice is kept: it is not "Everyone not yet invited".
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose a year group")
    expect(page.locator("#year_group-error")).to_contain_text("Choose a year group")
    expect(year_choice).to_be_checked()
    expect(page.get_by_label("Everyone not yet invited")).not_to_be_checked()
    expect(year_select).to_be_visible()
    assert_accessible(page)
    screenshot(page, "backoffice-invite-error")

    year_select.select_option("4")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are about to invite 1 parent of Year 4")
    expect(page.get_by_role("table")).to_contain_text("Alex Jones")
    expect(page.get_by_role("table")).not_to_contain_text("Raj Shah")
    assert_accessible(page)
    screenshot(page, "backoffice-invite-confirm")
    assert smtp_sink.messages == []  # nothing is sent before the confirmation

    page.get_by_role("button", name="Send 1 invitation").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "1 invitation sent to parents of Year 4."
    )
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ["alex@example.invalid"]
    with tenant_scope([school.id]):
        assert list(PortalInvitation.objects.values_list("contact_source_id", flat=True)) == ["C1"]


def test_ending_a_contract_with_a_missing_reason_then_confirming(
    page: Page, school: Organisation, smtp_sink: SmtpSink
) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school, email="admin@journey.invalid")
    factories.user(Role.SCHOOL_DPO, school, email="dpo@journey.invalid")
    ops = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="ops@ict.invalid")
    contract = Contract.objects.get(school=school)

    staff_sign_in(page, ops)
    page.goto("/processor/terminations/")
    page.get_by_role("link", name=f"End contract {contract.reference}").click()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("#reason-error")).to_contain_text("Enter why the contract is ending")
    assert_accessible(page)
    screenshot(page, "backoffice-termination-reason-error")

    page.get_by_label("Why is the contract ending?").fill("The school is joining a trust")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"You are about to end contract {contract.reference}")
    expect(page.locator(".govuk-summary-list")).to_contain_text("dpo@journey.invalid")
    assert_accessible(page)
    screenshot(page, "backoffice-termination-confirm")
    with processor_scope():
        assert not ContractTermination.objects.exists()  # nothing happens before "Yes"

    page.get_by_role("button", name=f"Yes, end contract {contract.reference}").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("2 people were emailed")
    expect(page.get_by_role("button", name=f"Purge {school.name}")).to_have_count(0)  # not before the window
    mails = smtp_sink.wait_for(2)
    assert sorted(r for m in mails for r in m.rcpt_tos) == ["admin@journey.invalid", "dpo@journey.invalid"]
    assert all("/school/export/" in m.body and "The school is joining a trust" in m.body for m in mails)

    page.context.clear_cookies()
    staff_sign_in(page, admin, school)
    link = page.get_by_role("link", name="Download your school's data")
    expect(link).to_be_visible()
    assert_accessible(page)
    screenshot(page, "backoffice-school-home-export")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"steward-export-{school.urn}.zip"
    assert zipfile.is_zipfile(download.value.path())

    with processor_scope():  # the server wrote the export under its own var dir: the purge removes it
        record = ContractTermination.objects.get(school=school)
    termination.termination_purge(termination=record, confirmed_by="test", override_window=True)
