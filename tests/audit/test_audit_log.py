"""Reading the audit log as a person does: filtered, paged, in words, exported as safe CSV.

Events are written with `audit_record` on fixed days (time-machine), about the learners of a small
school ingested for real, so the names in the sentences come from the MIS rows."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine

from steward.audit.actor import Actor
from steward.audit.labels import describe, describe_all
from steward.audit.models import AuditEvent
from steward.audit.selectors import AuditQuery, events_page
from steward.audit.services import audit_log_csv, audit_record
from steward.ingest.services import batch_ingest
from steward.mis.search import learner_ids_matching
from steward.tenancy.models import Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.django_db


def _on(day: int) -> dt.datetime:
    return dt.datetime(2026, 10, day, 9, tzinfo=dt.UTC)


def _school(name: str) -> Organisation:
    school = factories.school(name)
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="setup"
    )
    return school


@pytest.fixture
def schools() -> tuple[Organisation, Organisation]:
    a, other = _school("Ash Primary"), _school("Beech Primary")
    for day, school, actor, item, learner in (
        (1, a, "Dee Protect", "attendance", "L1"),
        (2, a, "Dee Protect", "homework", "L2"),
        (3, a, '=HYPERLINK("http://x")', "attendance", "L1"),
        (4, other, "Someone Else", "attendance", "L1"),
    ):
        with time_machine.travel(_on(day), tick=False), tenant_scope([school.id]):
            audit_record(
                action="portal_view",
                actor_label=actor,
                school_id=school.id,
                object_type="mis.Learner",
                object_ids=[learner],
                detail={"item": item},
            )
    return a, other


def test_an_event_is_told_in_words_with_the_pupils_name_in_the_schools_scope(
    schools: tuple[Organisation, Organisation],
) -> None:
    a, _ = schools
    with tenant_scope([a.id]):
        page = events_page(school_id=a.id, query=AuditQuery(action="portal_view"))
        sentences = [sentence for _, sentence in describe_all(page.object_list, school_id=a.id)]
    assert sentences == [
        "Viewed Sam Jones's attendance",
        "Viewed Priya Jones's homework",
        "Viewed Sam Jones's attendance",
    ]
    # The processor reads the same events without the pupils' names.
    assert describe(page.object_list[0], {}) == "Viewed the attendance of a pupil"
    batch = AuditEvent(action="ingest_applied", object_type="ingest.IngestBatch", object_ids=["x"], detail={})
    assert describe(batch, {}) == "Applied an MIS batch"
    logged = AuditEvent(action="rights_request_logged", object_type="rights.RightsRequest", object_ids=["1"], detail={})
    assert describe(logged, {}) == "Rights request logged"


def test_a_schools_log_is_filtered_by_person_pupil_action_and_date_and_counts_everything(
    schools: tuple[Organisation, Organisation],
) -> None:
    a, other = schools
    with tenant_scope([a.id]):
        views = AuditQuery(action="portal_view")
        assert events_page(school_id=a.id, query=views).paginator.count == 3  # never the other school's
        assert events_page(school_id=a.id, query=AuditQuery(person="dee")).paginator.count == 2
        priya = tuple(learner_ids_matching(text="priya"))
        assert events_page(school_id=a.id, query=AuditQuery(learner_ids=priya)).paginator.count == 1
        assert events_page(school_id=a.id, query=AuditQuery(learner_ids=())).paginator.count == 0
        assert events_page(school_id=a.id, query=AuditQuery(action="sign_in")).paginator.count == 0
        dated = AuditQuery(date_from=dt.date(2026, 10, 2), date_to=dt.date(2026, 10, 3))
        assert events_page(school_id=a.id, query=dated).paginator.count == 2
        # Paged over all of it, newest first, with the count.
        first, last = (events_page(school_id=a.id, query=views, page=n, per_page=2) for n in (1, 2))
        assert (first.paginator.count, first.paginator.num_pages, len(first.object_list), len(last.object_list)) == (
            3,
            2,
            2,
            1,
        )
        assert first.object_list[0].id > first.object_list[1].id > last.object_list[0].id
        # A school's scope cannot read another school's events even by asking for them.
        assert events_page(school_id=other.id, query=views).paginator.count == 0
    assert events_page(school_id=None, query=AuditQuery(person="someone")).paginator.count == 1  # the processor's log


def test_the_csv_export_is_audited_streamed_and_safe_in_a_spreadsheet(
    schools: tuple[Organisation, Organisation],
) -> None:
    a, _ = schools
    actor = Actor(label="Dee Protect", organisation_id=a.id)
    with tenant_scope([a.id]):
        lines = audit_log_csv(actor, school_id=a.id, query=AuditQuery(action="portal_view"))
    with processor_scope():
        export = AuditEvent.objects.filter(action="export_csv").get()
    assert (export.school_id, export.actor_label, export.object_type) == (a.id, "Dee Protect", "audit.AuditEvent")
    assert describe(export, {}) == "Exported audit log entries as CSV"
    rows = list(csv.reader(io.StringIO("".join(lines))))  # read after the scope closed: streamed in its own
    assert rows[0][:3] == ["When (UTC)", "Who", "What happened"]
    whos = [row[1] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in whos and "Dee Protect" in whos
    assert "Viewed Priya Jones's homework" in [row[2] for row in rows[1:]]
    assert "Someone Else" not in whos
