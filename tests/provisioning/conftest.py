"""The provisioning tests' world: a school's MIS data sent as batches, an approved rostering flow,
a target, and a real SCIM directory (scim2-server on loopback, behind a fault injector) with
readers that ask it over HTTP what it holds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from steward.audit.actor import Actor
from steward.core.sealed import seal
from steward.demo import scim_server
from steward.ingest.services import batch_ingest
from steward.provisioning.models import ProvisioningTarget
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.provisioning.scim_faults import Faults


@pytest.fixture(autouse=True)
def loopback_directories(settings: Any) -> None:
    """The tests' directories (scim2-server, Samba, slapd) listen on loopback: approved here as an
    ICT service approves a host on its private network (`provisioning.targets.address_refusal`)."""
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.0/8"]


ROSTERING = [
    "learner.identity",
    "learner.enrolment",
    "learner.groups",
    "staff.identity",
    "staff.assignment",
    "staff.work_contact",
]


def approved_rostering_flow(
    school: Organisation, recipient: str = "microsoft-365", categories: list[str] | None = None
) -> DataFlow:
    actor = Actor.system("test")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code=recipient),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Accounts for staff and pupils",
            lawful_basis="6.1.e",
            categories=categories or ROSTERING,
            actor=actor,
        )
        return sharing.flow_approve(flow=flow, actor=actor)


def make_target(school: Organisation, *, endpoint: str, token: str = "t0ken", **settings: Any) -> ProvisioningTarget:  # noqa: S107
    flow = settings.pop("flow", None) or approved_rostering_flow(school)
    values: dict[str, Any] = {
        "name": "entra",
        "kind": ProvisioningTarget.Kind.SCIM,
        "domain": "school.example",
        "brake_percent": 100,
        **settings,
    }
    with tenant_scope([school.id]):
        return ProvisioningTarget.objects.create(
            school=school, flow=flow, endpoint=endpoint, credential=seal(token), **values
        )


TOKEN = "scim-test-token"  # noqa: S105


def staff(
    sid: str, forename: str, surname: str, role: str = "Teacher", **contract: Any
) -> dict[str, list[dict[str, Any]]]:
    return {
        "staff": [{"source_id": sid, "forename": forename, "surname": surname, "email": ""}],
        "staff-assignments": [
            {"source_id": f"A{sid}", "staff_source_id": sid, "role": role, "start_date": "2020-09-01"}
        ],
        "staff-contracts": [
            {
                "source_id": f"K{sid}",
                "staff_source_id": sid,
                "contract_type": "PRM",
                "post": role,
                "start_date": "2020-09-01",
                "fte": "1.000",
                **contract,
            }
        ],
    }


def pupil(
    sid: str, forename: str, surname: str, year: str, group: str, **enrolment: Any
) -> dict[str, list[dict[str, Any]]]:
    return {
        "learners": [b.learner(sid, legal_forename=forename, legal_surname=surname)],
        "school-enrolments": [
            {
                "source_id": f"E{sid}",
                "learner_source_id": sid,
                "entry_date": "2026-09-01" if year == "7" else "2025-09-01",
                "enrolment_status": "C",
                "year_group": year,
                **enrolment,
            }
        ],
        "group-enrolments": [{"source_id": f"GE{sid}", "group_source_id": f"G{group}", "learner_source_id": sid}],
    }


GROUPS = {"groups": [{"source_id": f"G{g}", "name": g, "group_type": "registration"} for g in ("7A", "7B", "8A")]}


def records(*parts: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        for record_type, rows in part.items():
            merged.setdefault(record_type, []).extend(rows)
    return merged


def send(school: Organisation, data: dict[str, list[dict[str, Any]]], mode: str = "delta") -> None:
    batch_ingest(school=school, stream=io.BytesIO(b.json_batch(data)), format="json", mode=mode, sent_by="test")


SCHOOL = records(
    GROUPS,
    staff("S1", "Jo", "Bloggs"),
    staff("S2", "Siobhán", "O'Connor-Ní Bhriain", role="Head of Year"),
    pupil("L1", "Amy", "Khan", "7", "7A"),
    pupil("L2", "Zoë", "D'Arcy", "7", "7B"),
    pupil("L3", "Ben", "Smith-Jones", "8", "8A"),
    pupil("L4", "Ben", "Smith-Jones", "8", "8A"),
)


def running_directory() -> Iterator[tuple[scim_server.ScimServer, Faults]]:
    """A new, empty SCIM directory on loopback behind a fault injector, stopped afterwards."""
    faults = Faults()
    server = scim_server.start(token=TOKEN, wrap=faults.wrap)
    yield server, faults
    server.stop()


def oak_academy() -> Organisation:
    """Two staff and four pupils (two of them both called Ben Smith-Jones), through the real ingest."""
    school = factories.school("Oak Academy", services_=("hosted_mis", "rostering"))
    send(school, SCHOOL, mode="full")
    return school


@pytest.fixture
def directory() -> Iterator[tuple[scim_server.ScimServer, Faults]]:
    yield from running_directory()


@pytest.fixture
def school(committed_db: None) -> Organisation:
    return oak_academy()


def _read(server: scim_server.ScimServer, resource: str) -> list[dict[str, Any]]:
    """What the directory holds, read over HTTP as any SCIM client would."""
    answer = httpx.get(f"{server.url}/{resource}?count=1000", headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    return list(answer.json().get("Resources", []))


def users(server: scim_server.ScimServer) -> dict[str, dict[str, Any]]:
    return {u["userName"]: u for u in _read(server, "Users")}


def groups(server: scim_server.ScimServer) -> dict[str, set[str]]:
    return {g["displayName"]: {m["value"] for m in g.get("members") or []} for g in _read(server, "Groups")}
