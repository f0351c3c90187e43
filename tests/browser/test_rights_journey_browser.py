"""A DPO answers a subject access request in a real browser (issue #12): search for the person
(with an error on the way), log the request, check identity, review the bundle, withhold one part
for a recorded reason, and send it by email through the server's real SMTP path. Each page passes
axe with nothing serious or critical."""

from __future__ import annotations

import io
import json
import zipfile

from django.utils import timezone
from playwright.sync_api import Page

from steward.rights.models import RightsRequest, WithheldItem
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.browser.conftest import assert_accessible, screenshot
from tests.browser.test_privacy_operations_browser import school, staff_sign_in
from tests.notify_fixtures import SmtpSink

__all__ = ["school"]  # the fixture: Sam (L1), Priya (L2) and Olu (L3) with their families


def test_search_log_review_withhold_and_send_an_access_request(
    page: Page, school: Organisation, smtp_sink: SmtpSink
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dpo@browser.invalid")
    staff_sign_in(page, dpo, school)
    page.goto("/school/rights/")

    # A request about nobody is refused at the search field, keeping what was typed.
    page.get_by_label("Who is the request about?").fill("Nobody Atall")
    page.get_by_label("Access (Art. 15)").check()
    page.get_by_label("Who made the request").fill("Alex Jones (parent)")
    today = timezone.localdate()  # the server runs in its own process, on the real date
    page.get_by_label("Day").fill(str(today.day))
    page.get_by_label("Month").fill(str(today.month))
    page.get_by_label("Year").fill(str(today.year))
    page.get_by_role("button", name="Log the request").click()
    page.get_by_text("There is a problem").wait_for()
    assert page.title().startswith("Error:")
    assert "No one at this school matches" in page.locator("#person-error").inner_text()
    assert page.get_by_label("Who made the request").input_value() == "Alex Jones (parent)"
    assert_accessible(page)
    screenshot(page, "rights-journey-nobody")

    # Searching finds Sam; choosing the result logs the request about Sam.
    page.get_by_label("Who is the request about?").fill("Sam Jones")
    page.locator("#main-content").get_by_role("button", name="Search").click()
    page.get_by_text("1 person matches").wait_for()
    page.get_by_label("Sam Jones").check()
    page.get_by_label("Their email address (optional)").fill("alex@example.invalid")
    assert_accessible(page)
    screenshot(page, "rights-journey-found")
    page.get_by_role("button", name="Log the request").click()
    page.get_by_text("Request logged.").wait_for()
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get()
    assert (request.subject_label, request.requester_email) == ("Sam Jones", "alex@example.invalid")

    page.get_by_role("button", name="Identity checked").click()
    page.get_by_text("Identity checked.").wait_for()
    preview = page.locator("#bundle-preview")
    assert "Attendance" in preview.inner_text() and "Family and emergency contacts" in preview.inner_text()
    assert "mis." not in page.inner_text("main") and "content_hash" not in page.inner_text("main")

    # Withholding needs a reason: an error at the field, then the part is withheld.
    page.get_by_label("Part to withhold").select_option(label="Family and emergency contacts")
    page.get_by_role("button", name="Withhold this part").click()
    page.locator("#withhold_reason-error").wait_for()
    assert page.title().startswith("Error:")
    page.get_by_label("Why it is withheld").fill("Third-party data: names the other carer")
    page.get_by_role("button", name="Withhold this part").click()
    page.get_by_text("That part is withheld and the reason recorded.").wait_for()
    assert "Family and emergency contacts" not in preview.inner_text()
    history = page.inner_text("main")
    assert "Part of the bundle withheld" in history and "identity_checked" not in history  # events in words
    assert_accessible(page)
    screenshot(page, "rights-journey-review")

    page.get_by_role("button", name="Send the bundle and complete the request").click()
    page.get_by_text("The answer is sent and the request is completed.").wait_for()
    assert "Completed" in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, "rights-journey-sent")

    [sent] = [m for m in smtp_sink.wait_for(1) if "alex@example.invalid" in m.rcpt_tos]
    [attachment] = list(sent.message.iter_attachments())
    archive = zipfile.ZipFile(io.BytesIO(attachment.get_content()))
    assert "mis.LearnerContact" not in json.loads(archive.read("bundle.json"))["held"]["mis"]
    with tenant_scope([school.id]):
        assert WithheldItem.objects.get().reason == "Third-party data: names the other carer"
        assert RightsRequest.objects.get().status == "completed"
