"""Every rights request, history included: filtered, paged with a count, exported as audited CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.rights.services import request_log, request_refuse
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests.ingest import builders as b

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))]


def _requests(school: Organisation, names: list[str], refuse_first: bool = False) -> None:
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="agent"
    )
    with tenant_scope([school.id]):
        sam = Learner.objects.get(source_id="L1").pk
        for i, name in enumerate(names):
            logged = request_log(
                school=school,
                kind="access",
                subject_kind="learner",
                subject_id=sam,
                subject_label=name,
                requested_by="Alex Jones",
                received_on=dt.date(2026, 9, 1) + dt.timedelta(days=i),
                actor=Actor.system("DPO"),
            )
            if refuse_first and i == 0:
                request_refuse(request=logged, reason="manifestly unfounded", actor=Actor.system("DPO"))


def test_history_lists_closed_requests_filters_and_pages_with_bounded_queries(
    client: Client, dpo: User, school_a: Organisation, school_b: Organisation, django_assert_max_num_queries: Any
) -> None:
    _requests(school_a, ["Sam Refused"] + [f"Sam {i}" for i in range(54)], refuse_first=True)
    _requests(school_b, ["Birch Subject"])
    with django_assert_max_num_queries(25):
        response = client.get("/school/rights/all/")
    page = response.content.decode()
    assert "55 requests, newest first, page 1 of 2" in page and "Birch Subject" not in page
    refused = client.get("/school/rights/all/", {"status": "refused"}).content.decode()
    assert "1 request, newest first" in refused and "Sam Refused" in refused
    with django_assert_max_num_queries(25):  # the same bound for 55 rows as for 5
        second = client.get("/school/rights/all/", {"page": "2"})
    assert "page 2 of 2" in second.content.decode()
    bad = client.get("/school/rights/all/", {"status": "lost"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    assert "<title>Error: All rights requests" in bad.content.decode()


def test_the_csv_export_is_audited_filtered_and_safe(client: Client, dpo: User, school_a: Organisation) -> None:
    _requests(school_a, ["=cmd|' /C calc'!A0", "Sam Jones"])
    response = client.get("/school/rights/all/export.csv", {"text": "cmd"})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[arg-type]
    assert [row[2] for row in rows] == ["About", "'=cmd|' /C calc'!A0"]
    with processor_scope():
        export = AuditEvent.objects.get(action="export_csv")
    assert (export.school_id, export.actor_user_id, export.object_type) == (school_a.id, dpo.id, "rights.RightsRequest")
    assert export.detail == {"filter": {"text": "cmd"}}
    refused = client.get("/school/rights/all/export.csv", {"kind": "nonsense"})
    assert refused.status_code == 400
    with processor_scope():
        assert AuditEvent.objects.filter(action="export_csv").count() == 1
