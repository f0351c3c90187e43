"""The school's disclosure log: its own releases only, filtered, paged, exported as audited safe CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from steward.audit.models import AuditEvent
from steward.register.models import Recipient
from steward.sharing.models import Disclosure
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import processor_scope, tenant_scope

pytestmark = pytest.mark.django_db


def _released(school: Organisation, n: int, record_type: str = "learners", subject: str = "L1") -> None:
    recipient = Recipient.objects.get(code="la-attendance")
    with tenant_scope([school.id]):
        Disclosure.objects.bulk_create(
            Disclosure(
                school=school,
                recipient=recipient,
                flows=[1],
                record_type=record_type,
                channel="api",
                record_count=1,
                version_from=0,
                version_to=1,
                record_ids=[subject],
                subject_ids=[subject],
            )
            for _ in range(n)
        )


def test_the_log_is_the_schools_own_filtered_and_paged(
    client: Client, dpo: User, school_a: Organisation, school_b: Organisation, django_assert_max_num_queries: Any
) -> None:
    _released(school_a, 52)
    _released(school_a, 2, record_type="session-attendance")
    _released(school_b, 7, record_type="session-attendance")
    with django_assert_max_num_queries(25):
        page = client.get("/school/disclosures/").content.decode()
    assert "54 disclosures, newest first, page 1 of 2" in page
    filtered = client.get("/school/disclosures/", {"record_type": "session-attendance"}).content.decode()
    assert "2 disclosures, newest first" in filtered
    bad = client.get("/school/disclosures/", {"recipient": "nobody"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_the_csv_export_is_audited_and_safe(client: Client, dpo: User, school_a: Organisation) -> None:
    _released(school_a, 1, subject="=1+2")
    response = client.get("/school/disclosures/export.csv", {"recipient": "la-attendance"})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[arg-type]
    assert len(rows) == 2 and rows[1][5] == "'=1+2"
    with processor_scope():
        export = AuditEvent.objects.get(action="export_csv")
    assert (export.school_id, export.actor_user_id, export.object_type) == (school_a.id, dpo.id, "sharing.Disclosure")
