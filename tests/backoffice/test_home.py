"""A home page per role: a school's DPO sees what needs doing there (and nothing of another school);
the processor sees the schools with problems, counted across the estate, with no pupil's data."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.ingest.services import BatchRejectedWithBatch, batch_ingest
from steward.mis.models import Learner
from steward.register.models import ProcessingActivity, Recipient
from steward.rights.services import request_log
from steward.sharing.models import DataFlow, DeliveryAttempt
from steward.sharing.services import flow_approve
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.ingest import builders as b
from tests.sharing.conftest import request_flow

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(NOW)]
SERVICES = ("hosted_mis", "data_exchange", "parent_portal")


def _school(name: str) -> Organisation:
    school = factories.school(name, services_=SERVICES)
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="agent"
    )
    return school


def _flow(school: Organisation) -> DataFlow:
    return request_flow(
        school, Recipient.objects.get(code="la-attendance"), ProcessingActivity.objects.get(service="data_exchange")
    )


def _troubled(school: Organisation) -> None:
    """A rejected batch, a flow whose deliveries fail, a request awaiting a decision, an overdue request."""
    broken = {"learners": [b.learner("L9", date_of_birth="not a date")]}
    with pytest.raises(BatchRejectedWithBatch):
        batch_ingest(school=school, stream=io.BytesIO(b.csv_zip(broken)), format="csv-zip", mode="delta", sent_by="a")
    failing = _flow(school)
    _flow(school)
    with tenant_scope([school.id]):
        flow_approve(flow=failing, actor=Actor.system("DPO"))
        for minutes, status in ((30, "succeeded"), (20, "failed"), (10, "failed")):
            DeliveryAttempt.objects.create(
                school=school, flow=failing, status=status, started_at=NOW - dt.timedelta(minutes=minutes)
            )
        request_log(
            school=school,
            kind="access",
            subject_kind="learner",
            subject_id=Learner.objects.get(source_id="L1").pk,
            subject_label="Sam Jones",
            requested_by="Alex Jones",
            received_on=dt.date(2026, 10, 1),
            actor=Actor.system("DPO"),
        )


def test_a_dpos_home_lists_decisions_deadlines_and_alerts_of_their_school_only(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    a, other = _school("Alder Primary"), _school("Birch Academy")
    _troubled(a)
    _flow(other)
    dpo = factories.user(Role.SCHOOL_DPO, a)
    sign_in(client, dpo)
    choose(client, a)
    assert client.get("/")["Location"] == "/school/"
    with django_assert_max_num_queries(20):
        response = client.get("/school/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("– asked 20 November 2026") == 1  # one undecided request here; the other school's is not shown
    assert "Access (Art. 15) about Sam Jones" in page and "Overdue" in page
    assert "batch of 20 November 2026" in page and "was rejected" in page
    assert "are failing" in page


def test_the_processors_home_lists_schools_with_problems_and_no_pupils(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    a, calm = _school("Alder Primary"), _school("Birch Academy")
    _troubled(a)
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    assert client.get("/")["Location"] == "/processor/"
    with django_assert_max_num_queries(30) as one_school:
        response = client.get("/processor/")
    page = response.content.decode()
    assert f"Alder Primary (URN {a.urn})" in page and calm.name not in page.split("<main")[1]
    row = page.split(f"Alder Primary (URN {a.urn})")[1].split("</tr>")[0]
    assert '<td class="govuk-table__cell">1</td><td class="govuk-table__cell">1</td>' in row
    assert "Sam Jones" not in page
    _troubled(_school("Cedar School"))  # a second school with problems costs no more statements
    with django_assert_max_num_queries(len(one_school.captured_queries)):
        assert "Cedar School" in client.get("/processor/").content.decode()
