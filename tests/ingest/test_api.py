"""The ingest API: OAuth 2.0 client credentials of an MIS agent bound to one school."""

from __future__ import annotations

import base64
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.test import Client, override_settings

from steward.ingest.models import IngestBatch
from steward.mis.models import Learner
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.ingest import builders as b


def token(client: Client, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "ingest"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def upload(client: Client, bearer: str, data: bytes, *, fmt: str = "csv-zip", mode: str = "full") -> tuple[int, dict]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/v1/ingest/batches",
        {"file": SimpleUploadedFile("batch.zip", data), "format": fmt, "mode": mode},
        HTTP_AUTHORIZATION=f"Bearer {bearer}",
    )
    return response.status_code, response.json()


@pytest.mark.django_db
def test_an_agent_sends_a_batch_and_reads_it_back(client: Client, agent_a: str, school_a: Organisation) -> None:
    status, body = upload(client, agent_a, b.csv_zip(b.small_school()))
    assert status == 201
    assert (body["status"], body["duplicate"]) == ("applied", False)
    assert body["counts"]["learners"] == {"inserted": 2, "updated": 0, "unchanged": 0, "deleted": 0}
    again_status, again = upload(client, agent_a, b.csv_zip(b.small_school()))
    assert (again_status, again["id"], again["duplicate"]) == (200, body["id"], True)
    read = client.get(f"/api/v1/ingest/batches/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {agent_a}")
    assert (read.status_code, read.json()["id"]) == (200, body["id"])


@pytest.mark.django_db
def test_a_rejected_batch_answers_problem_json_with_every_error(client: Client, agent_a: str) -> None:
    data = b.small_school()
    data["learners"][0]["gender"] = "Z"
    status, body = upload(client, agent_a, b.csv_zip(data))
    assert status == 422
    assert body["title"] == "The batch was not applied; nothing was changed"
    assert body["errors"] == [
        {
            "record_type": "learners",
            "ref": "line 2",
            "source_id": "L1",
            "field": "gender",
            "reason": "'Z' is not a code of gender",
        }
    ]
    assert uuid.UUID(body["batch_id"])


@pytest.mark.django_db
def test_an_agent_cannot_read_another_schools_batch(client: Client, agent_a: str) -> None:
    school_b = factories.school("Beech Academy")
    _, client_id, secret = api_client_create(name="Beech agent", kind=ApiClient.Kind.MIS_AGENT, school=school_b)
    agent_b = token(client, client_id, secret)
    _, body = upload(client, agent_b, b.csv_zip(b.small_school()))
    response = client.get(f"/api/v1/ingest/batches/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {agent_a}")
    assert response.status_code == 404
    with tenant_scope([school_b.id]):
        assert Learner.objects.count() == 2


@pytest.mark.django_db
def test_without_a_valid_token_nothing_is_accepted(client: Client, school_a: Organisation) -> None:
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer not-a-token"}):
        response = client.post("/api/v1/ingest/batches", {"format": "json", "mode": "full"}, **header)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
    with tenant_scope([school_a.id]):
        assert IngestBatch.objects.count() == 0


@pytest.mark.django_db
def test_a_recipient_client_may_not_send_data(client: Client) -> None:
    _, client_id, secret = api_client_create(
        name="LA attendance", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    bearer = token(client, client_id, secret)
    status, _ = upload(client, bearer, b.csv_zip(b.small_school()))
    assert status == 401


@pytest.mark.django_db
@override_settings(INGEST_MAX_UPLOAD_BYTES=1000)
def test_an_upload_over_the_limit_is_refused_with_413(client: Client, agent_a: str, school_a: Organisation) -> None:
    big = b.csv_zip({"learners": [b.learner(f"L{i}") for i in range(200)]})
    status, body = upload(client, agent_a, big)
    assert status == 413
    assert "the limit is 1000" in body["detail"]
    with tenant_scope([school_a.id]):
        assert Learner.objects.count() == 0


def test_the_whole_path_over_real_http(committed_db: None, server_url: str) -> None:
    school = factories.school("Cedar School")
    _, client_id, secret = api_client_create(name="Cedar agent", kind=ApiClient.Kind.MIS_AGENT, school=school)
    with httpx.Client(base_url=server_url, timeout=30) as http:
        issued = http.post(
            "/oauth/token/", data={"grant_type": "client_credentials", "scope": "ingest"}, auth=(client_id, secret)
        )
        assert issued.status_code == 200
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        response = http.post(
            "/api/v1/ingest/batches",
            headers=headers,
            files={"file": ("batch.json", b.json_batch(b.small_school()))},
            data={"format": "json", "mode": "full"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["counts"]["learner-contacts"]["inserted"] == 2
        schema = http.get("/api/v1/openapi.json").json()
        assert "/api/v1/ingest/batches" in schema["paths"]
    with tenant_scope([school.id]):
        assert Learner.objects.count() == 2


def test_simultaneous_copies_of_one_batch_apply_it_once_and_all_get_its_answer(
    committed_db: None, server_url: str
) -> None:
    """Six agents' retries racing: the first applies the batch, every other waits and is told it was applied."""
    school = factories.school("Rowan School")
    _, client_id, secret = api_client_create(name="Rowan agent", kind=ApiClient.Kind.MIS_AGENT, school=school)
    data = b.csv_zip(b.small_school())
    with httpx.Client(base_url=server_url, timeout=60) as http:
        issued = http.post(
            "/oauth/token/", data={"grant_type": "client_credentials", "scope": "ingest"}, auth=(client_id, secret)
        )
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        start = threading.Barrier(6)

        def send(_: int) -> httpx.Response:
            start.wait()
            return http.post(
                "/api/v1/ingest/batches",
                headers=headers,
                files={"file": ("batch.zip", data)},
                data={"format": "csv-zip", "mode": "full"},
            )

        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(send, range(6)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True, True, True]
    with tenant_scope([school.id]):
        assert IngestBatch.objects.filter(status=IngestBatch.Status.APPLIED).count() == 1
        assert Learner.objects.count() == 2
