"""The back office's search box: grouped by kind, the chosen school's records only, the processor
sees schools and no pupils, a bad query is refused, and what was shown is audited."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.backoffice.search import search_school
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.register.models import ProcessingActivity, Recipient
from steward.rights.services import request_log
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.ingest import builders as b
from tests.sharing.conftest import request_flow

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))]


def _fill(school: Organisation, surname: str) -> None:
    data = b.small_school()
    for learner in data["learners"]:
        learner["legal_surname"] = surname
    batch_ingest(
        school=school,
        stream=io.BytesIO(b.csv_zip(data)),
        format="csv-zip",
        mode="full",
        sent_by="agent",
        filename=f"{surname.lower()}-nightly.zip",
    )
    with tenant_scope([school.id]):
        sam = Learner.objects.get(source_id="L1")
        request_log(
            school=school,
            kind="access",
            subject_kind="learner",
            subject_id=sam.pk,
            subject_label=f"Sam {surname}",
            requested_by=f"Alex {surname}",
            received_on=dt.date(2026, 11, 2),
            actor=Actor.system("DPO"),
        )
    request_flow(
        school,
        Recipient.objects.get(code="la-attendance"),
        ProcessingActivity.objects.get(service="data_exchange"),
    )


SERVICES = ("hosted_mis", "data_exchange", "parent_portal")


@pytest.fixture
def school_a() -> Organisation:
    return factories.school("Alder Primary", services_=SERVICES)


@pytest.fixture
def school_b() -> Organisation:
    return factories.school("Birch Academy", services_=SERVICES)


@pytest.fixture
def filled(school_a: Organisation, school_b: Organisation) -> tuple[Organisation, Organisation]:
    _fill(school_a, "Alderson")
    _fill(school_b, "Birchall")
    return school_a, school_b


def test_a_school_search_finds_each_kind_of_record_of_that_school_only(
    filled: tuple[Organisation, Organisation],
) -> None:
    a, _ = filled
    with tenant_scope([a.id]):
        people = search_school("sam alderson").people
        assert [hit.name for hit in people["learner"]] == ["Sam Alderson"]
        assert search_school("Birchall").count == 0  # the other school's pupils, request and batch
        assert [r.subject_label for r in search_school("Sam Alderson").requests] == ["Sam Alderson"]
        assert [batch.filename for batch in search_school("alderson-nightly").batches] == ["alderson-nightly.zip"]
        assert len(search_school("attendance").flows) == 1
        assert [hit.kind for hit in search_school("alex@example").people["contact"]] == ["contact", "contact"]


def test_the_search_page_groups_results_audits_them_and_keeps_its_queries_bounded(
    client: Client, dpo: User, filled: tuple[Organisation, Organisation], django_assert_max_num_queries: Any
) -> None:
    a, _ = filled
    with django_assert_max_num_queries(20):
        response = client.get("/search/", {"q": "Alderson"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 class="govuk-heading-m">Pupils</h2>' in page and "Rights requests" in page
    assert "Sam Alderson" in page and "Priya Alderson" in page and "Birchall" not in page
    assert "/school/audit/?pupil=Sam%20Alderson" in page
    with processor_scope():
        seen = AuditEvent.objects.get(action="search", object_type="mis.Learner")
    assert (seen.school_id, seen.actor_user_id, sorted(seen.object_ids)) == (a.id, dpo.id, ["L1", "L2"])


def test_a_query_too_short_or_too_long_is_refused_and_audits_nothing(client: Client, dpo: User) -> None:
    short = client.get("/search/", {"q": "a"})
    assert short.status_code == 400 and "Enter at least 2 characters" in short.content.decode()
    assert "<title>Error: Search" in short.content.decode()
    long = client.get("/search/", {"q": "x" * 101})
    assert long.status_code == 400 and "100 characters or fewer" in long.content.decode()
    with processor_scope():
        assert not AuditEvent.objects.filter(action="search").exists()


def test_the_processor_finds_schools_and_never_pupils(
    client: Client, filled: tuple[Organisation, Organisation]
) -> None:
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    pupils = client.get("/search/", {"q": "Alderson"})
    assert pupils.status_code == 200 and "Sam Alderson" not in pupils.content.decode()
    schools = client.get("/search/", {"q": "alder"})
    assert "Alder Primary" in schools.content.decode() and "Birch Academy" not in schools.content.decode()
