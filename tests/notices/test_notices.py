"""Generated privacy notices say only what the runtime enforces."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from pypdf import PdfReader

from steward.audit.actor import Actor
from steward.core import pdf
from steward.notices.models import NoticeVersion
from steward.portal.cookies import portal_cookies
from steward.register.classification import PersonalData, classification_of
from steward.register.models import DataCategory, ProcessingActivity, Recipient, RetentionRule
from steward.register.providers import providers
from steward.register.services import catalogue_sync
from steward.retention.selectors import unevaluated_rules
from steward.sharing import services
from steward.sharing.models import DataFlow
from steward.tenancy import services as tenancy_services
from steward.tenancy.models import DataProtectionContact, Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Notice Primary", services_=("hosted_mis", "data_exchange"))
    with tenant_scope([school.id]):
        DataProtectionContact.objects.create(school=school, kind="dpo", name="Dee Protect", email="dpo@np.invalid")
    exchange = ProcessingActivity.objects.get(service="data_exchange")
    for code, outcome in (
        ("la-attendance", "approved"),
        ("la-youth-justice", "requested"),
        ("safeguarding-monitor", "declined"),
    ):
        with tenant_scope([school.id]):
            flow = services.flow_request(
                school=school,
                recipient=Recipient.objects.get(code=code),
                activity=exchange,
                purpose=f"Purpose of {code}",
                lawful_basis="6.1.e",
                categories=["learner.identity"],
                actor=Actor.system("recipient"),
            )
            if outcome == "approved":
                services.flow_approve(flow=flow, actor=Actor.system("DPO"))
            elif outcome == "declined":
                services.flow_decline(flow=flow, actor=Actor.system("DPO"))
    return school


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_index_lists_only_the_services_in_force(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/").content.decode())
    assert "Hosted MIS data" in page and "LA data exchange" in page
    assert "Parent portal" not in page
    assert client.get(f"/privacy/{school.urn}/parent_portal/").status_code == 404
    assert client.get("/privacy/999999999/").status_code == 404


def test_recipients_are_those_with_an_approved_flow_and_no_others(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/data_exchange/").content.decode())
    assert Recipient.objects.get(code="la-attendance").name in page
    assert "Purpose of la-attendance" in page
    assert "Purpose of la-youth-justice" not in page
    assert "Purpose of safeguarding-monitor" not in page
    names = set(Recipient.objects.values_list("name", flat=True))
    with tenant_scope([school.id]):
        approved = set(DataFlow.objects.filter(status="approved").values_list("recipient__name", flat=True))
    assert {n for n in names if n in page} == approved


def test_the_notice_names_controller_processor_basis_retention_and_rights(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/hosted_mis/").content.decode())
    assert "Notice Primary is the data controller" in page
    assert "Test ICT Service processes the information" in page
    assert "Dee Protect" in page
    assert "Art. 6(1)(e) public task" in page
    assert "Art. 9(2)(g) substantial public interest" in page
    assert "days after the school's contract ends" in page
    assert "Information Commissioner" in page
    assert "None: the information stays in the UK." in page


def test_a_suspended_flow_leaves_the_notice_at_once(client: Client, school: Organisation) -> None:
    with tenant_scope([school.id]):
        services.flow_suspend(flow=DataFlow.objects.get(status="approved"), actor=Actor.system("DPO"))
    page = _text(client.get(f"/privacy/{school.urn}/data_exchange/").content.decode())
    assert "Purpose of la-attendance" not in page
    assert "Nobody outside the school and its ICT service receives this information." in page


def _sections(html: str) -> dict[str, str]:
    """The text of each section of a notice page, by its heading."""
    parts = re.split(r'<h2 class="govuk-heading-m">([^<]+)</h2>', html)
    return {unescape(parts[i]): _text(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}


def test_the_pdf_is_rendered_from_the_same_content(client: Client, school: Organisation) -> None:
    response = client.get(f"/privacy/{school.urn}/data_exchange/notice.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    assert "Notice Primary is the data controller" in text
    assert Recipient.objects.get(code="la-attendance").name in text
    assert "Purpose of la-attendance" in text
    assert "Purpose of la-youth-justice" not in text
    assert "Source:" not in text  # the register's internal references are for staff, not the public PDF
    assert client.get("/privacy/999999999/data_exchange/notice.pdf").status_code == 404
    assert client.get(f"/privacy/{school.urn}/parent_portal/notice.pdf").status_code == 404


def test_every_section_names_its_source_in_the_register_for_staff_only(client: Client, school: Organisation) -> None:
    public = client.get(f"/privacy/{school.urn}/hosted_mis/").content.decode()
    assert "Source:" not in public and "steward-source" not in public
    sign_in(client, factories.user(Role.SCHOOL_DPO, school))
    html = client.get(f"/privacy/{school.urn}/hosted_mis/").content.decode()
    sources = dict(re.findall(r'data-source-section="([a-z_]+)">Source: ([^<]+)</p>', html))
    assert set(sources) == {
        "controller",
        "categories",
        "purposes",
        "lawful_basis",
        "recipients",
        "transfers",
        "places",
        "retention",
        "security",
        "cookies",
        "rights",
    }
    assert f"school URN {school.urn}" in sources["controller"]
    assert "register activity &#x27;hosted_mis&#x27; categories" in sources["categories"]
    assert unescape(sources["recipients"]).endswith("release data now: none")


def test_every_printed_category_is_held_by_some_model_field(client: Client, school: Organisation) -> None:
    """Walk the classification independently of the notice: a category no model field or provider
    holds is never collected, so printing it would be a promise nothing keeps."""
    held = {h_cat for p in providers() for h in p.describe() for h_cat in h.categories}
    for model in apps.get_models():
        classification = classification_of(model)
        if isinstance(classification, PersonalData):
            held |= classification.categories()
    for service in ("hosted_mis", "data_exchange"):
        activity = ProcessingActivity.objects.get(service=service)
        section = _sections(client.get(f"/privacy/{school.urn}/{service}/").content.decode())["What we hold"]
        printed = {c.code for c in DataCategory.objects.all() if re.search(rf"\b{re.escape(c.name)}\b", section)}
        expected = set(activity.categories.values_list("code", flat=True)) & held
        assert printed == expected, service
        assert printed <= held


def test_retention_periods_printed_are_applied_by_the_retention_code_or_flagged(
    client: Client, school: Organisation
) -> None:
    """The honest option: a rule the retention code cannot apply yet is still printed (the notice
    must say how long data is kept) but says that the software does not apply it automatically."""
    not_automated = {r.id for r in unevaluated_rules()}
    for service in ("hosted_mis", "data_exchange"):
        html = client.get(f"/privacy/{school.urn}/{service}/").content.decode()
        rules = RetentionRule.objects.filter(activity__service=service)
        for rule in rules:
            item = re.search(rf'<li data-retention-rule="{rule.id}" data-automated="(yes|no)">([^<]+)</li>', html)
            assert item is not None, f"rule {rule} not printed"
            flagged = "Steward does not yet apply this period automatically" in item[2]
            assert flagged == (rule.id in not_automated), rule
            assert f"{rule.period_days} days" in item[2]
        assert len(re.findall(r"data-retention-rule=", html)) == rules.count()
    # The portal's closed accounts are swept by the retention task, so that period is not flagged.
    portal_school = factories.school("Portal Primary", services_=("parent_portal",))
    html = client.get(f"/privacy/{portal_school.urn}/parent_portal/").content.decode()
    assert 'data-automated="yes"' in html and 'data-automated="no"' not in html
    assert "Steward does not yet apply this period automatically" not in html
    # Every rule is applied now the service desk declares its own, so none is flagged.
    assert unevaluated_rules() == []


def test_the_portal_notice_lists_the_cookies_the_portal_sets(client: Client) -> None:
    portal_school = factories.school("Cookie Primary", services_=("hosted_mis", "parent_portal"))
    portal = _sections(client.get(f"/privacy/{portal_school.urn}/parent_portal/").content.decode())["Cookies"]
    for cookie in portal_cookies():
        assert f"{cookie.name} {cookie.purpose}" in portal
    other = _sections(client.get(f"/privacy/{portal_school.urn}/hosted_mis/").content.decode())["Cookies"]
    assert settings.SESSION_COOKIE_NAME in other and settings.CSRF_COOKIE_NAME in other
    assert "only these two strictly necessary cookies" in other
    portal_only = {c.name for c in portal_cookies()} - {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    assert portal_only and not any(name in other for name in portal_only)


def _versions(school: Organisation, service: str) -> list[tuple[int, str]]:
    with tenant_scope([school.id]):
        return list(NoticeVersion.objects.filter(service=service).order_by("number").values_list("number", "content"))


def test_a_render_records_a_version_only_when_the_content_changed(client: Client, school: Organisation) -> None:
    client.get(f"/privacy/{school.urn}/data_exchange/")
    client.get(f"/privacy/{school.urn}/data_exchange/notice.pdf")
    client.get(f"/privacy/{school.urn}/data_exchange/")
    versions = _versions(school, "data_exchange")
    assert [n for n, _ in versions] == [1]
    assert "- Notice Primary" not in versions[0][1]
    assert "Purpose of la-attendance" in versions[0][1]


def test_a_suspended_flow_records_a_new_version_with_a_readable_diff(client: Client, school: Organisation) -> None:
    attendance = Recipient.objects.get(code="la-attendance").name
    client.get(f"/privacy/{school.urn}/data_exchange/")
    with tenant_scope([school.id]):
        services.flow_suspend(flow=DataFlow.objects.get(status="approved"), actor=Actor.system("DPO"))
    assert [n for n, _ in _versions(school, "data_exchange")] == [1, 2]  # recorded by the event, not a render

    listing = _text(client.get(f"/privacy/{school.urn}/data_exchange/versions/").content.decode())
    assert "Version 2 (current)" in listing and "Version 1" in listing

    old = _text(client.get(f"/privacy/{school.urn}/data_exchange/versions/1/").content.decode())
    assert f"{attendance}: Purpose of la-attendance" in old
    assert "It has been replaced by version 2" in old

    diff = client.get(f"/privacy/{school.urn}/data_exchange/versions/2/diff/").content.decode()
    assert re.search(rf"<strong[^>]*>Removed:</strong> <del>{re.escape(attendance)}: Purpose of la-attendance", diff)
    assert re.search(r"<strong[^>]*>Added:</strong> <ins>Nobody outside the school", diff)
    assert "1 statement added, " in _text(diff)
    assert '<h2 class="govuk-heading-m">Who receives it</h2>' in diff
    assert "nothing earlier to compare" in _text(
        client.get(f"/privacy/{school.urn}/data_exchange/versions/1/diff/").content.decode()
    )
    assert client.get(f"/privacy/{school.urn}/data_exchange/versions/3/").status_code == 404


def test_a_new_dpo_and_a_catalogue_sync_record_new_versions(client: Client, school: Organisation) -> None:
    client.get(f"/privacy/{school.urn}/hosted_mis/")
    with tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(
            school=school, kind="dpo", name="Nina Newcontact", email="nina@np.invalid"
        )
    versions = _versions(school, "hosted_mis")
    assert [n for n, _ in versions] == [1, 2]
    assert "Dee Protect" in versions[0][1] and "Nina Newcontact" in versions[1][1]

    activity = ProcessingActivity.objects.get(service="hosted_mis")
    original = list(activity.purposes)
    activity.purposes = [*original, "A purpose the catalogue does not state"]
    activity.save(update_fields=["purposes"])
    assert "A purpose the catalogue does not state" in _text(
        client.get(f"/privacy/{school.urn}/hosted_mis/").content.decode()
    )
    catalogue_sync()
    versions = _versions(school, "hosted_mis")
    assert [n for n, _ in versions] == [1, 2, 3, 4]
    assert "A purpose the catalogue does not state" not in versions[3][1]
    assert ProcessingActivity.objects.get(service="hosted_mis").purposes == original
    # The old version still reads as it was published, after the register moved on.
    assert "A purpose the catalogue does not state" in _text(
        client.get(f"/privacy/{school.urn}/hosted_mis/versions/3/").content.decode()
    )


def test_a_school_sees_only_its_own_versions(client: Client, school: Organisation) -> None:
    other = factories.school("Other Academy", services_=("hosted_mis",))
    client.get(f"/privacy/{school.urn}/hosted_mis/")
    client.get(f"/privacy/{other.urn}/hosted_mis/")
    page = _text(client.get(f"/privacy/{other.urn}/hosted_mis/versions/1/").content.decode())
    assert "Other Academy" in page and "Notice Primary" not in page and "Dee Protect" not in page
    assert client.get(f"/privacy/{other.urn}/data_exchange/versions/").status_code == 404
    assert client.get(f"/privacy/{other.urn}/data_exchange/versions/1/").status_code == 404
    assert client.get(f"/privacy/{other.urn}/nonsense/versions/").status_code == 404
    assert [n for n, _ in _versions(other, "hosted_mis")] == [1]


def _pdf_text(content: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


def test_a_notice_pdf_is_rendered_once_per_version_and_says_what_the_version_says(
    client: Client, school: Organisation
) -> None:
    url = f"/privacy/{school.urn}/data_exchange/notice.pdf"
    attendance = Recipient.objects.get(code="la-attendance").name
    before = pdf.renders
    first = client.get(url)
    assert (first.status_code, pdf.renders - before) == (200, 1)
    second = client.get(url)
    assert (second.status_code, pdf.renders - before) == (200, 1)  # served from the stored version
    assert second.content == first.content
    assert second["Content-Disposition"] == f'inline; filename="privacy-notice-{school.urn}-data_exchange-v1.pdf"'
    text = _pdf_text(first.content)
    [(_, v1)] = _versions(school, "data_exchange")
    assert f"{attendance}: Purpose of la-attendance" in v1 and "Purpose of la-attendance" in text

    with tenant_scope([school.id]):
        services.flow_suspend(flow=DataFlow.objects.get(status="approved"), actor=Actor.system("DPO"))
        stored_v1 = bytes(NoticeVersion.objects.get(service="data_exchange", number=1).pdf)
    third = client.get(url)
    assert (third.status_code, pdf.renders - before) == (200, 2)  # a new version, a new PDF
    assert third["Content-Disposition"].endswith('-data_exchange-v2.pdf"')
    new_text = _pdf_text(third.content)
    assert "Purpose of la-attendance" not in new_text
    assert "Nobody outside the school and its ICT service receives this information." in new_text
    assert client.get(url).content == third.content and pdf.renders - before == 2
    assert stored_v1 == first.content  # the old version keeps the PDF it was published as


def test_one_address_reading_notices_too_fast_is_refused_for_the_rest_of_the_minute(
    client: Client, school: Organisation, settings: Any
) -> None:
    """Anonymous and expensive: a crawl from one address is stopped before it builds more notices;
    another address still reads them."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_notice_address": (3, 60)}
    pages = [
        f"/privacy/{school.urn}/",
        f"/privacy/{school.urn}/hosted_mis/",
        f"/privacy/{school.urn}/hosted_mis/notice.pdf",
    ]
    assert [client.get(page).status_code for page in pages] == [200, 200, 200]
    refused = client.get(f"/privacy/{school.urn}/hosted_mis/notice.pdf")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert b"Too many privacy notice pages" in refused.content
    assert client.get(f"/privacy/{school.urn}/hosted_mis/", REMOTE_ADDR="192.0.2.7").status_code == 200
