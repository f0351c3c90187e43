"""No copy of a page about a person may be kept by a browser or proxy: every dynamic response says
`no-store, private` unless it is public on purpose (privacy notices: `no-cache`) or a static file."""

from __future__ import annotations

import base64

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from steward.audit.actor import Actor
from steward.register.models import ProcessingActivity, Recipient
from steward.rights.models import RightsRequest
from steward.sharing import services as flows
from steward.tenancy.models import ApiClient, Organisation, Role
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.portal import families
from tests.rights import people_form

pytestmark = pytest.mark.django_db

NO_STORE = "no-store, private"
BACK_OFFICE_PAGES = [
    "/schools/",
    "/school/register/",
    "/school/people/",
    "/school/audit/",
    "/school/batches/",
    "/school/rights/",
    "/school/flows/",
    "/school/consents/",
    "/account/marketing/",
]


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Rowan Primary", services_=("hosted_mis", "parent_portal", "data_exchange"))
    families.send(school, families.family_records(), mode="full")
    return school


@pytest.fixture
def office(client: Client, school: Organisation) -> Client:
    sign_in(client, factories.user(Role.SCHOOL_DPO, school, email="dpo@rowan.invalid"))
    choose(client, school)
    return client


def assert_not_stored(response: HttpResponse, what: str) -> None:
    assert response.get("Cache-Control") is not None, f"{what}: no Cache-Control"
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= directives, f"{what}: Cache-Control {response['Cache-Control']!r}"


def test_back_office_pages_and_a_rights_request_are_not_stored(office: Client, school: Organisation) -> None:
    for path in BACK_OFFICE_PAGES:
        response = office.get(path)
        assert response.status_code == 200, path
        assert_not_stored(response, path)
    learner = families.learner_id(school, "L1")
    form = people_form.log_form("access", "learner", learner, received_on=timezone.localdate())
    assert office.post("/school/rights/", form).status_code == 302
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get(kind="access")
    page = office.get(f"/school/rights/{request.id}/")
    assert page.status_code == 200
    assert_not_stored(page, "rights request page")


@pytest.mark.parametrize(("kind", "action"), [("access", "bundle"), ("portability", "portable")])
def test_rights_request_downloads_are_not_stored(office: Client, school: Organisation, kind: str, action: str) -> None:
    form = people_form.log_form(kind, "learner", families.learner_id(school, "L1"), received_on=timezone.localdate())
    assert office.post("/school/rights/", form).status_code == 302
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get(kind=kind)
    assert office.post(f"/school/rights/{request.id}/", {"action": "identity"}).status_code == 302
    download = office.post(f"/school/rights/{request.id}/", {"action": action})
    assert (download.status_code, download["Content-Type"]) == (200, "application/zip")
    assert_not_stored(download, f"{kind} download")


def test_portal_pages_are_not_stored(client: Client, school: Organisation) -> None:
    parent = families.registered_parent(school, "C1")
    families.portal_sign_in(client, parent.email)
    child = families.learner_id(school, "L1")
    for path in ["/portal/", f"/portal/children/{child}/", "/portal/account/", f"/portal/children/{child}/homework/"]:
        response = client.get(path)
        assert response.status_code in (200, 404), path  # a switched-off item is a 404, also personal
        assert_not_stored(response, path)


def test_the_recipient_apis_record_pages_are_not_stored(client: Client, school: Organisation) -> None:
    recipient = Recipient.objects.get(code="la-attendance")
    with tenant_scope([school.id]):
        flow = flows.flow_request(
            school=school,
            recipient=recipient,
            activity=ProcessingActivity.objects.get(service="data_exchange"),
            purpose="Monitor attendance",
            lawful_basis="6.1.c",
            categories=["learner.identity", "learner.attendance"],
            actor=Actor.system("LA"),
        )
        flows.flow_approve(flow=flow, actor=Actor.system("DPO"))
    _, client_id, secret = api_client_create(
        name="LA attendance", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert token["Cache-Control"] == "no-store"  # RFC 6749 5.1: the token endpoint's own header stays
    bearer = f"Bearer {token.json()['access_token']}"
    for path in [f"/api/v1/schools/{school.urn}/learners", f"/api/v1/schools/{school.urn}/session-attendance"]:
        response = client.get(path, HTTP_AUTHORIZATION=bearer)
        assert response.status_code == 200, (path, response.content[:300])
        assert response.json()["records"], path
        assert_not_stored(response, path)


def test_sign_in_pages_and_errors_are_not_stored(client: Client) -> None:
    for path in ["/sign-in/", "/portal/sign-in/", "/no-such-page/", "/api/v1/schools"]:
        assert_not_stored(client.get(path), path)


def test_public_notices_may_be_kept_but_are_checked_again_and_static_files_are_cacheable(
    client: Client, school: Organisation
) -> None:
    for path in [f"/privacy/{school.urn}/", f"/privacy/{school.urn}/hosted_mis/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-cache", path
    static = client.get("/static/steward/steward.css")
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")
