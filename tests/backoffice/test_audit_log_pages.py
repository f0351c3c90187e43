"""The audit log pages over HTTP: filters with GOV.UK date inputs, paging, CSV export, and no N+1."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from steward.audit.models import AuditEvent
from steward.audit.services import audit_record
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in

pytestmark = pytest.mark.django_db


def _events(school: Organisation, n: int, actor: str = "Dee Protect") -> None:
    with tenant_scope([school.id]):
        for i in range(n):
            audit_record(
                action="portal_view",
                actor_label=actor,
                school_id=school.id,
                object_type="mis.Learner",
                object_ids=[f"L{i}"],
                detail={"item": "attendance"},
            )


def test_an_impossible_date_is_refused_at_its_field_and_lists_nothing(
    client: Client, dpo: User, school_a: Organisation
) -> None:
    _events(school_a, 2)
    response = client.get("/school/audit/", {"from_day": "31", "from_month": "2", "from_year": "2026"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "<title>Error: Audit log" in page
    assert "The start date must be a real date" in page
    assert 'value="31"' in page  # what was typed stays
    assert "No events match" not in page and "Download " not in page
    half = client.get("/school/audit/", {"to_day": "3", "to_year": "2026"})
    assert half.status_code == 400 and "The end date must include a month" in half.content.decode()
    csv_refused = client.get("/school/audit/export.csv", {"from_day": "31", "from_month": "2", "from_year": "2026"})
    assert csv_refused.status_code == 400
    with processor_scope():
        assert not AuditEvent.objects.filter(action="export_csv").exists()


def test_the_log_is_paged_in_words_with_a_bounded_number_of_queries(
    client: Client, dpo: User, school_a: Organisation, school_b: Organisation, django_assert_max_num_queries: Any
) -> None:
    _events(school_a, 60)
    _events(school_b, 5, actor="Birch Person")
    with django_assert_max_num_queries(25) as few:
        response = client.get("/school/audit/", {"person": "dee"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "60 events about Alder Primary, page 1 of 2" in page
    assert "Viewed the attendance of a pupil" in page and ">mis.Learner" not in page
    assert "Birch Person" not in page
    _events(school_a, 60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        second = client.get("/school/audit/", {"person": "dee", "page": "3"})
    assert "120 events about Alder Primary, page 3 of 3" in second.content.decode()


def test_the_csv_export_is_streamed_filtered_and_recorded(client: Client, dpo: User, school_a: Organisation) -> None:
    _events(school_a, 3)
    _events(school_a, 1, actor="@SUM(1+1)")
    response = client.get("/school/audit/export.csv", {"person": "@sum"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[arg-type]
    assert [row[1] for row in rows[1:]] == ["'@SUM(1+1)"]
    with processor_scope():
        export = AuditEvent.objects.get(action="export_csv")
    assert (export.school_id, export.actor_user_id) == (school_a.id, dpo.id)
    assert export.detail == {"filter": {"person": "@sum"}}


def test_the_processors_log_covers_every_school_without_pupils_names(client: Client, school_a: Organisation) -> None:
    _events(school_a, 2)
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    response = client.get("/processor/audit/", {"action": "portal_view"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 events, page 1 of 1" in page and "Viewed the attendance of a pupil" in page
    assert "Pupil (name or UPN)" not in page
