"""For every record type of the data model: approved fields only, restricted subjects absent,
deletes delivered, a disclosure for every page released."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.demo.synthetic import generate
from steward.ingest.schema import record_types
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.mis.privacy import MisPrivacyProvider
from steward.register.models import ProcessingActivity, Recipient
from steward.register.providers import Subject
from steward.sharing import services
from steward.sharing.catalogue import SUBJECT_REFERENCES, fields_for_categories
from steward.sharing.models import Disclosure
from steward.tenancy import services as tenancy
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Organisation, Path]:
    manifest = generate(tmp_path, schools=1, seed=11, formats={"csv"}, scale=0.05)
    entry = manifest["schools"][0]
    school = tenancy.school_create(
        name=entry["name"],
        urn=int(entry["urn"]),
        la_code=str(entry["la_code"]),
        establishment_number=str(entry["establishment_number"]),
        phase="primary",
    )
    path = tmp_path / f"{entry['urn']}.zip"
    with path.open("rb") as stream:
        batch_ingest(school=school, stream=stream, format="csv-zip", mode="full", sent_by="test")
    return school, path


def _withheld(fields: set[str]) -> set[str]:
    """One ordinary field of each type, left out at approval, to prove narrowing holds."""
    withheld = set()
    for record_type in record_types():
        own = sorted(
            f for f in fields if f.startswith(record_type + ".") and f.split(".", 1)[1] not in SUBJECT_REFERENCES
        )
        if len(own) > 1:
            withheld.add(own[-1])
    return withheld


def test_every_type_releases_exactly_the_approved_fields_and_never_a_restricted_subject(
    client: Client, loaded: tuple[Organisation, Path]
) -> None:
    school, _ = loaded
    activity = ProcessingActivity.objects.get(service="hosted_mis")
    categories = set(activity.categories.values_list("code", flat=True))
    with tenant_scope([school.id]):
        flow = services.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="backup-provider"),
            activity=activity,
            purpose="Off-site backup of the hosted MIS data",
            lawful_basis="6.1.e",
            categories=categories,
            special_condition="9.2.g",
            actor=Actor.system("test"),
        )
        withheld = _withheld(set(flow.fields))
        services.flow_approve(flow=flow, actor=Actor.system("DPO"), fields=set(flow.fields) - withheld)
        learner = Learner.objects.order_by("source_id").first()
        assert learner is not None
        MisPrivacyProvider().restrict_subject(Subject("learner", learner.id, school.id), restricted=True)
    bearer = _bearer(client, "backup-provider")
    approved = set(flow.fields)
    pages = 0
    for record_type in record_types():
        expected = {"change_version", "source_id"} | {
            f.split(".", 1)[1] for f in approved if f.startswith(record_type + ".")
        }
        response = client.get(
            f"/api/v1/schools/{school.urn}/{record_type}?limit=5000", HTTP_AUTHORIZATION=f"Bearer {bearer}"
        )
        if expected == {"change_version", "source_id"}:
            assert response.status_code == 403, record_type
            continue
        assert response.status_code == 200, record_type
        rows: list[dict[str, Any]] = response.json()["records"]
        pages += 1 if rows else 0
        assert all(set(r) == expected for r in rows), record_type
        assert not any(learner.source_id in (r.get("source_id"), r.get("learner_source_id")) for r in rows), record_type
    assert len(withheld) >= 10
    assert fields_for_categories(categories) >= approved
    with tenant_scope([school.id]):
        assert Disclosure.objects.count() == pages
        assert not Disclosure.objects.filter(subject_ids__contains=[learner.source_id]).exists()


def test_deletes_of_every_released_type_reach_the_recipient(client: Client, loaded: tuple[Organisation, Path]) -> None:
    school, path = loaded
    activity = ProcessingActivity.objects.get(service="hosted_mis")
    with tenant_scope([school.id]):
        flow = services.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="backup-provider"),
            activity=activity,
            purpose="Off-site backup",
            lawful_basis="6.1.e",
            categories=["learner.identity", "learner.attendance", "contact.relationship"],
            actor=Actor.system("test"),
        )
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        gone = Learner.objects.order_by("source_id").first()
        assert gone is not None
        MisPrivacyProvider().erase_subject(Subject("learner", gone.id, school.id), dry_run=False)
    body = client.get(
        f"/api/v1/schools/{school.urn}/deletes?limit=5000",
        HTTP_AUTHORIZATION=f"Bearer {_bearer(client, 'backup-provider')}",
    ).json()
    kinds = {r["record_type"] for r in body["records"]}
    assert kinds == {"learners", "session-attendance", "learner-contacts"}
    assert ("learners", gone.source_id) in {(r["record_type"], r["source_id"]) for r in body["records"]}


def _bearer(client: Client, code: str) -> str:
    _, client_id, secret = api_client_create(name=code, kind=ApiClient.Kind.RECIPIENT, recipient_code=code)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": "read"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    return str(response.json()["access_token"])
