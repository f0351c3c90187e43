"""Investigation copies through the back office: the processor's staff ask on the ticket's page (a
bad request is a 400 naming the field, and writes nothing); the school's DPO narrows the request,
sees the confirmation page, and only its "Yes" makes the copy; a DPO of another school can neither
see nor approve it (404, nothing changes)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.test import Client

from steward.ingest.services import batch_ingest
from steward.servicedesk.models import CopyStatus, InvestigationCopy
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.ingest import builders as b
from tests.servicedesk.test_copies import DESK, _drop_copies, _records, _tables, _ticket


@pytest.fixture
def alder(committed_db: None) -> Iterator[Organisation]:
    school = factories.school("Alder Primary", services_=DESK)
    result = batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(_records())), format="csv-zip", mode="full", sent_by="test"
    )
    assert result.batch.status == "applied", result.batch.errors
    yield school
    _drop_copies()


def _client(user: User, school: Organisation | None = None) -> Client:
    client = Client()
    sign_in(client, user)
    if school is not None:
        choose(client, school)
    return client


def _copies(school: Organisation) -> list[InvestigationCopy]:
    with tenant_scope([school.id]):
        return list(InvestigationCopy.objects.order_by("id"))


def test_asked_for_narrowed_confirmed_and_walled_off_from_another_school(alder: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")
    ticket = _ticket(alder, dpo)
    support = _client(factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid"))
    page = f"/processor/service-desk/{ticket.pk}/copies/new/"
    assert "Ask the school for an investigation copy" in support.get(f"/processor/service-desk/{ticket.pk}/").text

    refused = support.post(page, {"reason": "Reproduce it", "recipient": "mis_vendor", "record_types": ["learners"]})
    assert refused.status_code == 400 and "Name the MIS vendor that will see the copy" in refused.text
    assert _copies(alder) == []
    asked = support.post(
        page, {"reason": "Reproduce it", "recipient": "processor", "record_types": ["learners", "session-attendance"]}
    )
    assert asked.status_code == 302
    [copy] = _copies(alder)
    assert copy.status == CopyStatus.REQUESTED

    birch = factories.school("Birch Academy", services_=DESK)
    stranger = _client(factories.user(Role.SCHOOL_DPO, birch, email="dpo@birch.invalid"), birch)
    where = f"/school/service-desk/{ticket.pk}/copies/{copy.pk}/"
    assert stranger.get(where).status_code == 404
    form = {"action": "approve", "record_types": ["learners"], "confirm": "yes"}
    assert stranger.post(where, form).status_code == 404
    assert _copies(alder)[0].status == CopyStatus.REQUESTED

    school = _client(dpo, alder)
    assert "COPY-" in school.get(f"/school/service-desk/{ticket.pk}/").text
    confirm = school.post(where, {"action": "approve", "record_types": ["learners"]})
    assert confirm.status_code == 200 and "Are you sure you want to approve this copy?" in confirm.text
    assert "Pseudonymised" in confirm.text
    assert _copies(alder)[0].status == CopyStatus.REQUESTED  # nothing yet: the page only asks
    widened = school.post(where, {"action": "approve", "record_types": ["learners", "contacts"], "confirm": "yes"})
    assert widened.status_code == 400 and "may only narrow" in widened.text
    done = school.post(where, {"action": "approve", "record_types": ["learners"], "confirm": "yes"})
    assert done.status_code == 302
    [copy] = _copies(alder)
    assert copy.status == CopyStatus.LIVE and copy.approved_types == ["learners"] and not copy.real_identities
    assert _tables(copy.schema_name) == {"mis_learner"}
    withdrawn = school.post(where, {"action": "withdraw"})
    assert withdrawn.status_code == 302 and _copies(alder)[0].status == CopyStatus.DESTROYED
    proof = _copies(alder)[0].destruction_proof_id
    assert proof is not None and f"proof of destruction: retention proof {proof}" in school.get(where).text
