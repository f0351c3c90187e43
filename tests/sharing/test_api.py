"""The recipient API: approved fields only, restricted subjects absent, 403/404, deletes, disclosures."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.mis.privacy import MisPrivacyProvider
from steward.register.models import ProcessingActivity, Recipient
from steward.register.providers import Subject
from steward.sharing import services
from steward.sharing.models import DataFlow, Disclosure
from steward.sharing.selectors import disclosures_of_subject
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.ingest import builders as b
from tests.ingest.test_api import token
from tests.sharing.conftest import request_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity) -> DataFlow:
    flow = request_flow(school, attendance_service, exchange)
    with tenant_scope([school.id]):
        return services.flow_approve(
            flow=flow,
            actor=Actor.system("DPO"),
            fields=[
                "learners.legal_forename",
                "learners.legal_surname",
                "learners.date_of_birth",
                "session-attendance.learner_source_id",
                "session-attendance.date",
                "session-attendance.session",
                "session-attendance.mark",
            ],
        )


@pytest.fixture
def bearer(client: Client) -> str:
    _, client_id, secret = api_client_create(
        name="LA attendance", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    return str(response.json()["access_token"])


def get(client: Client, bearer: str, path: str) -> tuple[int, Any]:
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {bearer}")
    return response.status_code, response.json()


def test_the_recipient_sees_its_schools_and_flows(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    status, body = get(client, bearer, "/api/v1/schools")
    assert status == 200
    assert [(s["urn"], [f["id"] for f in s["flows"]]) for s in body] == [(school.urn, [approved.id])]
    assert body[0]["flows"][0]["record_types"] == ["learners", "session-attendance"]


def test_only_approved_fields_are_present_and_pages_follow_change_versions(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    status, first = get(client, bearer, f"/api/v1/schools/{school.urn}/learners?limit=1")
    assert status == 200
    assert first["more"] is True
    record = first["records"][0]
    assert set(record) == {"change_version", "source_id", "legal_forename", "legal_surname", "date_of_birth"}
    _, second = get(client, bearer, f"/api/v1/schools/{school.urn}/learners?since={first['next_since']}&limit=1")
    assert second["records"][0]["change_version"] > record["change_version"]
    assert second["more"] is False
    _, marks = get(client, bearer, f"/api/v1/schools/{school.urn}/session-attendance")
    assert {tuple(sorted(r)) for r in marks["records"]} == {
        ("change_version", "date", "learner_source_id", "mark", "session", "source_id")
    }


@pytest.mark.parametrize("record_type", ["contacts", "learner-contacts", "special-needs", "staff"])
def test_a_type_no_approved_flow_releases_is_403(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, record_type: str
) -> None:
    status, body = get(client, bearer, f"/api/v1/schools/{school.urn}/{record_type}")
    assert (status, body["status"]) == (403, 403)
    with tenant_scope([school.id]):
        assert not Disclosure.objects.filter(record_type=record_type).exists()


@pytest.mark.parametrize("action", [services.flow_suspend, services.flow_revoke])
def test_suspended_and_revoked_flows_stop_at_once(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, action: Any
) -> None:
    assert get(client, bearer, f"/api/v1/schools/{school.urn}/learners")[0] == 200
    with tenant_scope([school.id]):
        action(flow=approved, actor=Actor.system("DPO"))
    assert get(client, bearer, f"/api/v1/schools/{school.urn}/learners")[0] == 403
    assert get(client, bearer, "/api/v1/schools")[1] == []


def test_another_schools_urn_is_404_and_reveals_nothing(client: Client, bearer: str, approved: DataFlow) -> None:
    other = factories.school("Hawthorn School", services_=("hosted_mis", "data_exchange"))
    batch_ingest(
        school=other, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="t"
    )
    assert get(client, bearer, f"/api/v1/schools/{other.urn}/learners")[0] == 404
    assert get(client, bearer, "/api/v1/schools/999999999/learners")[0] == 404


def test_a_restricted_learner_disappears_at_once(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        MisPrivacyProvider().restrict_subject(Subject("learner", learner.id, school.id), restricted=True)
    _, learners = get(client, bearer, f"/api/v1/schools/{school.urn}/learners")
    _, marks = get(client, bearer, f"/api/v1/schools/{school.urn}/session-attendance")
    assert [r["source_id"] for r in learners["records"]] == ["L2"]
    assert {r["learner_source_id"] for r in marks["records"]} == {"L2"}


def test_deletes_are_delivered_for_released_types(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    batch_ingest(
        school=school,
        stream=io.BytesIO(b.csv_zip({"learners": [b.learner("L1")]})),
        format="csv-zip",
        mode="full",
        sent_by="t",
    )
    status, body = get(client, bearer, f"/api/v1/schools/{school.urn}/deletes")
    assert status == 200
    # learner-contacts were tombstoned too, but no approved flow releases them to this recipient.
    assert {(r["record_type"], r["source_id"]) for r in body["records"]} == {
        ("learners", "L2"),
        ("session-attendance", "L2:2026-09-03:AM"),
    }


def test_every_page_released_is_a_disclosure_findable_by_subject(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    get(client, bearer, f"/api/v1/schools/{school.urn}/session-attendance")
    with tenant_scope([school.id]):
        disclosure = Disclosure.objects.get()
        assert (disclosure.record_type, disclosure.record_count, disclosure.flows) == (
            "session-attendance",
            3,
            [approved.id],
        )
        assert disclosure.subject_ids == ["L1", "L2"]
        assert [d.id for d in disclosures_of_subject(school_id=disclosure.school_id, source_id="L1")] == [disclosure.id]


def test_an_mis_agent_token_cannot_read(client: Client, school: Organisation, approved: DataFlow) -> None:
    _, client_id, secret = api_client_create(name="agent", kind=ApiClient.Kind.MIS_AGENT, school=school)
    agent = token(client, client_id, secret)
    assert get(client, agent, f"/api/v1/schools/{school.urn}/learners")[0] == 401


def test_a_recipient_asks_for_a_flow_and_the_register_decides_what_is_possible(
    client: Client, bearer: str, school: Organisation
) -> None:
    response = client.post(
        "/api/v1/flows",
        {
            "school_urn": school.urn,
            "activity": "data_exchange",
            "purpose": "Attendance casework",
            "lawful_basis": "6.1.c",
            "categories": ["learner.identity", "learner.attendance"],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bearer}",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "requested"
    assert "session-attendance.mark" in body["fields"]
    refused = client.post(
        "/api/v1/flows",
        {
            "school_urn": school.urn,
            "activity": "data_exchange",
            "purpose": "Photos",
            "lawful_basis": "6.1.c",
            "categories": ["learner.photo"],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bearer}",
    )
    assert refused.status_code == 422
    assert "learner.photo" in refused.json()["detail"]
    with tenant_scope([school.id]):
        assert DataFlow.objects.count() == 1
    # Still only requested: nothing is released until the school approves.
    assert get(client, bearer, f"/api/v1/schools/{school.urn}/learners")[0] == 403


def test_a_withdrawn_transfer_safeguard_stops_an_approved_overseas_flow(
    client: Client, school: Organisation, exchange: ProcessingActivity
) -> None:
    overseas = Recipient.objects.get(code="overseas-learning-app")
    overseas.transfer_safeguard = "UK International Data Transfer Agreement (IDTA), signed 2026-01-10"
    overseas.save()
    flow = request_flow(school, overseas, exchange, lawful_basis="6.1.e", categories=["learner.identity"])
    with tenant_scope([school.id]):
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
    _, client_id, secret = api_client_create(
        name="app", kind=ApiClient.Kind.RECIPIENT, recipient_code="overseas-learning-app"
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    bearer = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    ).json()["access_token"]
    assert get(client, bearer, f"/api/v1/schools/{school.urn}/learners")[0] == 200
    overseas.transfer_safeguard = ""
    overseas.save()
    assert get(client, bearer, f"/api/v1/schools/{school.urn}/learners")[0] == 403


def test_a_request_for_a_service_the_school_does_not_use_or_an_unknown_school_is_refused(
    client: Client, bearer: str, school: Organisation
) -> None:
    body = {
        "school_urn": school.urn,
        "activity": "rostering",
        "purpose": "Accounts",
        "lawful_basis": "6.1.e",
        "categories": ["learner.identity"],
    }
    refused = client.post("/api/v1/flows", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {bearer}")
    assert (refused.status_code, refused.json()["title"]) == (422, "The school does not use this service")
    unknown = client.post(
        "/api/v1/flows",
        {**body, "school_urn": 999999999},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {bearer}",
    )
    assert unknown.status_code == 404
    with tenant_scope([school.id]):
        assert not DataFlow.objects.exists()


def test_a_form_body_where_json_is_expected_is_415_not_500(client: Client, bearer: str) -> None:
    """Found by the authorization matrix: a multipart body made the flow request endpoint fail with 500."""
    response = client.post("/api/v1/flows", {"school_urn": "1"}, HTTP_AUTHORIZATION=f"Bearer {bearer}")
    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"
    assert "application/json" in response.json()["detail"]


@pytest.mark.parametrize(
    "since", ["-99999999999999999999", "99999999999999999999", "-1", "9223372036854775808", "9" * 5000]
)
@pytest.mark.parametrize("path", ["learners", "deletes"])
def test_a_change_version_outside_its_range_is_a_422_naming_since(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, since: str, path: str
) -> None:
    response = client.get(f"/api/v1/schools/{school.urn}/{path}?since={since}", HTTP_AUTHORIZATION=f"Bearer {bearer}")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["/query/since"]
    with tenant_scope([school.id]):
        assert not Disclosure.objects.exists()


def test_the_largest_change_version_is_a_valid_since(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    status, body = get(client, bearer, f"/api/v1/schools/{school.urn}/learners?since=9223372036854775807")
    assert (status, body["records"], body["more"]) == (200, [], False)


@pytest.mark.parametrize(
    ("purpose", "pointer"),
    [("Attendance\x00", "/purpose"), ("Attendance\ud800", "/purpose")],
    ids=["nul", "lone-surrogate"],
)
def test_a_flow_request_with_text_no_database_can_hold_is_a_422(
    client: Client, bearer: str, school: Organisation, purpose: str, pointer: str
) -> None:
    body = {
        "school_urn": school.urn,
        "activity": "data_exchange",
        "purpose": purpose,
        "lawful_basis": "6.1.c",
        "categories": ["learner.identity"],
    }
    response = client.post(
        "/api/v1/flows", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {bearer}"
    )
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
    with tenant_scope([school.id]):
        assert not DataFlow.objects.exists()


def test_a_school_urn_beyond_any_integer_is_a_404_or_422(client: Client, bearer: str, approved: DataFlow) -> None:
    for path in ("learners", "deletes"):
        response = client.get(f"/api/v1/schools/{'9' * 30}/{path}", HTTP_AUTHORIZATION=f"Bearer {bearer}")
        assert response.status_code in (404, 422), response.content


def test_a_flow_request_through_the_api_is_audited_like_one_recorded_in_the_back_office(
    client: Client, school: Organisation
) -> None:
    """The sharing service audits the request, so the API path writes the same event as the back
    office's (`flow_request_recorded`, the flow, the school), naming the client that asked."""
    _, client_id, secret = api_client_create(
        name="LA attendance", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    bearer = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    ).json()["access_token"]
    body = {
        "school_urn": school.urn,
        "activity": "data_exchange",
        "purpose": "Attendance casework",
        "lawful_basis": "6.1.c",
        "categories": ["learner.identity", "learner.attendance"],
    }
    auth = {"content_type": "application/json", "HTTP_AUTHORIZATION": f"Bearer {bearer}", "HTTP_USER_AGENT": "la/2"}
    response = client.post("/api/v1/flows", body, **auth)  # type: ignore[arg-type]
    assert response.status_code == 201, response.content
    refused = client.post("/api/v1/flows", {**body, "categories": ["learner.photo"]}, **auth)  # type: ignore[arg-type]
    assert refused.status_code == 422
    with processor_scope():
        events = list(AuditEvent.objects.filter(action="flow_request_recorded"))
    assert len(events) == 1, "the refused request changed nothing and is not audited as recorded"
    event = events[0]
    assert (event.school_id, event.object_type, event.object_ids) == (
        school.id,
        "sharing.DataFlow",
        [str(response.json()["id"])],
    )
    label = f"{Recipient.objects.get(code='la-attendance').name} (API)"
    assert (event.actor_client, event.actor_user_id, event.actor_label) == (client_id, None, label)
    assert (event.ip_address, event.user_agent) == ("127.0.0.1", "la/2")


def test_refusals_are_audited_and_twenty_in_an_hour_raise_a_misuse_alert(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    """Issue #16: each 403/404 for data no approved flow releases is an `api_refused` event naming the
    client (and the school when it exists), which the monitoring rule counts."""
    from steward.monitoring.detection import detection_pass
    from steward.monitoring.models import Alert
    from steward.tenancy.scope import estate_scope

    # Twenty minutes past the hour (within the token's hour, before or after now), so that the twenty
    # refusals fall in one of the rule's hourly windows whenever the test runs.
    at = timezone.now().replace(minute=20, second=0, microsecond=0)
    with time_machine.travel(at, tick=True):
        assert get(client, bearer, f"/api/v1/schools/{school.urn}/special-needs")[0] == 403
        assert get(client, bearer, "/api/v1/schools/999999999/learners")[0] == 404
        for _ in range(18):
            get(client, bearer, f"/api/v1/schools/{school.urn}/staff")
    with processor_scope():
        refused = list(AuditEvent.objects.filter(action="api_refused").order_by("id"))
    client_id = refused[0].actor_client
    assert client_id and [(e.school_id, e.detail["status"], e.detail["record_type"]) for e in refused[:2]] == [
        (school.id, 403, "special-needs"),
        (None, 404, ""),  # no such school: the URN and path are in the detail
    ]
    assert refused[1].detail["urn"] == 999999999 and len(refused) == 20
    detection_pass()
    with estate_scope(), processor_scope():
        [alert] = Alert.objects.filter(rule="api_client_misuse")
    assert alert.school_id is None and alert.subject_key == f"client:{client_id}" and alert.event_count == 20


@override_settings(STEWARD_MONITORING={"bulk_reads": {"hour_floor": 3, "day_floor": 1000}})
def test_a_page_read_is_audited_as_a_view_by_the_client_and_counts_towards_its_bulk_reads(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    """Issue #16: an API client's reads count like a person's. Each page is a `view` of its records
    by the client at the school (besides its Disclosure), which the bulk-read rule counts."""
    from steward.monitoring.detection import detection_pass
    from steward.monitoring.models import Alert
    from steward.tenancy.scope import estate_scope

    assert get(client, bearer, f"/api/v1/schools/{school.urn}/session-attendance")[0] == 200
    with processor_scope():
        [event] = AuditEvent.objects.filter(action="view", purpose="recipient API")
    assert (event.school_id, event.object_type, len(event.object_ids)) == (school.id, "mis.SessionAttendance", 3)
    assert event.actor_client
    detection_pass()
    with estate_scope(), processor_scope():
        [alert] = Alert.objects.filter(rule="bulk_reads_hour")
    assert (alert.school_id, alert.subject_key, alert.event_ids) == (
        school.id,
        f"client:{event.actor_client}",
        [event.id],
    )
