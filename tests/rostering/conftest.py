"""The OneRoster tests' world: a school's MIS data (classes, pupils, teachers), approved rostering
flows to two learning platforms, and real tokens from the OAuth endpoint. Today is fixed (autumn
term 2026), because the academic sessions are derived from it."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import time_machine
from django.test import Client

from steward.audit.actor import Actor
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.ingest import builders as b
from tests.provisioning.conftest import records, send, staff

BASE = "/ims/oneroster/rostering/v1p2"
SCHEMAS = Path(__file__).parent / "schemas"
TODAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

# Everything a learning platform could be given, fields by record type (no special categories).
ROSTER_FIELDS = [
    "learners.legal_forename",
    "learners.legal_surname",
    "learners.preferred_forename",
    "school-enrolments.year_group",
    "groups.name",
    "groups.code",
    "groups.subject",
    "group-enrolments.group_source_id",
    "group-enrolments.learner_source_id",
    "group-enrolments.start_date",
    "staff.forename",
    "staff.surname",
    "staff.email",
    "staff-assignments.role",
]
CATEGORIES = [
    "learner.identity",
    "learner.enrolment",
    "learner.groups",
    "staff.identity",
    "staff.assignment",
    "staff.work_contact",
]


def pupil(sid: str, forename: str, year: str, *groups: str, **fields: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "learners": [b.learner(sid, legal_forename=forename, legal_surname="Khan", **fields)],
        "school-enrolments": [
            {
                "source_id": f"E{sid}",
                "learner_source_id": sid,
                "entry_date": "2025-09-01",
                "enrolment_status": "C",
                "year_group": year,
            }
        ],
        "group-enrolments": [
            {"source_id": f"GE{sid}{g}", "group_source_id": g, "learner_source_id": sid, "start_date": "2026-09-01"}
            for g in groups
        ],
    }


GROUPS = {
    "groups": [
        {"source_id": "G7A", "name": "7A", "code": "7A", "group_type": "registration"},
        {"source_id": "G7MA", "name": "7 Maths set 1", "code": "7Ma1", "group_type": "teaching", "subject": "Maths"},
        {"source_id": "G8MA", "name": "8 Maths set 1", "code": "8Ma1", "group_type": "teaching", "subject": "Maths"},
        {"source_id": "GHOUSE", "name": "Oak house", "group_type": "house"},
    ]
}


def school_records() -> dict[str, list[dict[str, Any]]]:
    return records(
        GROUPS,
        staff("S1", "Jo", "Bloggs", role="Class Teacher"),
        staff("S2", "Sam", "Patel", role="Teaching Assistant"),
        pupil("L1", "Amy", "7", "G7A", "G7MA", preferred_forename="Ames", email="amy@pupils.example"),
        pupil("L2", "Zoe", "R", "G7A"),
        pupil("L3", "Ben", "8", "G8MA"),
    )


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


def make_school(name: str) -> Organisation:
    school = factories.school(name, services_=("hosted_mis", "rostering"))
    send(school, school_records(), mode="full")
    return school


def approve(
    school: Organisation, recipient: str, fields: list[str] | None = None, categories: list[str] | None = None
) -> DataFlow:
    actor = Actor.system("DPO")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code=recipient),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Accounts and classes on the learning platform",
            lawful_basis="6.1.e",
            categories=categories or CATEGORIES,
            actor=actor,
        )
        return sharing.flow_approve(flow=flow, actor=actor, fields=fields or ROSTER_FIELDS)


@pytest.fixture
def school() -> Organisation:
    return make_school("Willow Academy")


@pytest.fixture
def approved(school: Organisation) -> DataFlow:
    return approve(school, "learning-app")


def bearer_for(client: Client, recipient: str, scope: str = "roster.readonly") -> str:
    _, client_id, secret = api_client_create(
        name=f"{recipient} OneRoster", kind=ApiClient.Kind.RECIPIENT, recipient_code=recipient
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


@pytest.fixture
def bearer(client: Client) -> str:
    return bearer_for(client, "learning-app")


def get(client: Client, bearer: str, path: str, **params: str) -> Any:
    """GET a OneRoster path; returns the response (its JSON at `.json()`)."""
    return client.get(f"{BASE}/{path}", params, HTTP_AUTHORIZATION=f"Bearer {bearer}")


def validate(kind: str, body: Any) -> None:
    """Check a body against the schema written down from the specification (raises if it does not fit)."""
    schema = json.loads((SCHEMAS / f"{kind}.json").read_text())
    jsonschema_rs.validator_for(schema).validate(body)
