"""The retention preview applies the register's rules to what is held, and deletes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.register.models import Recipient, RetentionRule
from steward.retention.selectors import Due, retention_preview, school_targets, unevaluated_rules
from steward.retention.services import hold_place
from steward.sharing.models import Disclosure
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def school() -> Organisation:
    return ingested("Retention Primary")


def ingested(name: str) -> Organisation:
    """A school with a small MIS: L1 left in July (with a photograph), L2 left five days ago."""
    school = factories.school(name, services_=("hosted_mis", "data_exchange"))
    photo = base64.b64encode(b"\xff\xd8\xff fake jpeg").decode()
    records = b.small_school()
    records["learners"][0]["photo"] = photo
    records["learners"][1]["photo"] = photo
    records["school-enrolments"] = [
        {
            "source_id": "E1",
            "learner_source_id": "L1",
            "entry_date": "2020-09-01",
            "leaving_date": "2026-07-20",
            "enrolment_status": "C",
        },
        {
            "source_id": "E2",
            "learner_source_id": "L2",
            "entry_date": "2020-09-01",
            "leaving_date": "2026-11-20",
            "enrolment_status": "C",
        },
    ]
    batch_ingest(school=school, stream=io.BytesIO(b.json_batch(records)), format="json", mode="full", sent_by="t")
    return school


def test_photos_of_learners_who_left_over_30_days_ago_are_due(school: Organisation) -> None:
    due = retention_preview(today=TODAY, schools=[school])
    assert [(d.what, d.rows, d.rule.category.code if d.rule.category else None) for d in due] == [
        ("photographs of learners who left", 1, "learner.photo")
    ]
    with tenant_scope([school.id]):
        assert Learner.objects.exclude(photo=None).count() == 2  # a preview deletes nothing


def test_an_ended_contract_makes_all_hosted_data_due_after_30_days(school: Organisation) -> None:
    Contract.objects.filter(school=school).update(end_date=dt.date(2026, 10, 1), status=Contract.Status.ENDED)
    due = {d.what: d for d in retention_preview(today=TODAY, schools=[school])}
    assert due["all hosted MIS data"].rows == 11
    assert "ended more than 30 days ago" in due["all hosted MIS data"].reason


def test_old_disclosure_log_entries_are_due_after_seven_years(school: Organisation) -> None:
    with tenant_scope([school.id]):
        for at in (dt.datetime(2019, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
            Disclosure.objects.create(
                school=school,
                recipient=Recipient.objects.get(code="la-attendance"),
                flows=[1],
                record_type="learners",
                channel="api",
                record_count=1,
                version_from=0,
                version_to=1,
                record_ids=["L1"],
                subject_ids=["L1"],
                at=at,
            )
    due = {d.what: d.rows for d in retention_preview(today=TODAY, schools=[school])}
    assert due["disclosure log entries"] == 1


def test_every_rule_of_the_catalogue_is_evaluated_now_the_service_desk_declares_its_own() -> None:
    assert {r.activity.service for r in unevaluated_rules()} == set()


def test_the_command_prints_the_preview(school: Organisation, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("retention", "preview", school=school.urn)
    out = capsys.readouterr().out
    assert "row(s) of photographs of learners who left" in out
    assert "(no data held yet)" not in out  # every rule has its app's target now, the service desk's too


def _disclosed(school: Organisation, subject: str, at: dt.datetime) -> None:
    with tenant_scope([school.id]):
        Disclosure.objects.create(
            school=school,
            recipient=Recipient.objects.get(code="la-attendance"),
            flows=[1],
            record_type="learners",
            channel="api",
            record_count=1,
            version_from=0,
            version_to=1,
            record_ids=[subject],
            subject_ids=[subject],
            at=at,
        )


def _school_by_school(schools: list[Organisation]) -> list[Due]:
    """The sweep's way: each school's targets inside its own scope (what the preview did before)."""
    rules = list(RetentionRule.objects.select_related("activity", "category").order_by("id"))
    due: list[Due] = []
    for school in schools:
        with tenant_scope([school.id]):
            due += [t.due() for t in school_targets(rules, school, TODAY)]
    return due


def _shape(school: Organisation, *, ended: bool) -> None:
    """A held subject (L1, with a photograph, in old disclosures), old disclosures of L2, maybe an ended contract."""
    hold_place(
        school=school, reason=f"Claim at {school.name}", placed_by="DPO", subject_kind="learner", subject_source_id="L1"
    )
    for subject in ("L1", "L2", "L2"):
        _disclosed(school, subject, dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    if ended:
        Contract.objects.filter(school=school).update(end_date=dt.date(2026, 10, 1), status=Contract.Status.ENDED)


def test_many_schools_are_counted_at_once_with_the_numbers_of_each_school_alone() -> None:
    alder, birch, cedar, damson = (ingested(n) for n in ("Alder", "Birch", "Cedar", "Damson"))
    _shape(alder, ended=False)
    _shape(birch, ended=True)
    hold_place(school=cedar, reason="Cedar's tribunal", placed_by="DPO")  # the whole school
    _disclosed(cedar, "L2", dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    # Damson: nothing held, its contract running; its L1's photograph is due.

    schools = [alder, birch, cedar, damson]
    due = retention_preview(today=TODAY, schools=schools)
    assert due == _school_by_school(schools)
    table = {(d.school.name if d.school else "", d.what): (d.rows, d.held, d.held_reason) for d in due}
    # Alder's L1 is held: its photograph and the disclosure naming it are kept; L2's two are due.
    assert table[("Alder", "photographs of learners who left")] == (0, 1, "Claim at Alder")
    assert table[("Alder", "disclosure log entries")] == (2, 1, "Claim at Alder")
    # Birch's ended contract makes all its hosted data due, but L1 and what refers to L1 is held there only.
    assert table[("Birch", "all hosted MIS data")][0] > 0 and table[("Birch", "all hosted MIS data")][1] > 0
    assert ("Alder", "all hosted MIS data") not in table and ("Damson", "all hosted MIS data") not in table
    # Cedar is held whole: everything found there is held, with the school's reason.
    assert table[("Cedar", "photographs of learners who left")] == (0, 1, "Cedar's tribunal")
    assert table[("Cedar", "disclosure log entries")] == (0, 1, "Cedar's tribunal")
    assert table[("Damson", "photographs of learners who left")] == (1, 0, "")
    assert [d.school.name for d in due if d.school] == sorted(d.school.name for d in due if d.school)  # in order


def test_the_queries_do_not_grow_with_the_number_of_schools(
    django_assert_max_num_queries: Callable[[int], AbstractContextManager[Any]],
) -> None:
    schools = [ingested(n) for n in ("Alder", "Birch", "Cedar")]
    for school in schools:
        _shape(school, ended=True)
    with CaptureQueriesContext(connection) as one:
        retention_preview(today=TODAY, schools=schools[:1])
    with django_assert_max_num_queries(len(one.captured_queries)):
        due = retention_preview(today=TODAY, schools=schools)
    assert {d.school for d in due} == set(schools)
    with CaptureQueriesContext(connection) as before:  # counted school by school, as the preview did
        _school_by_school(schools)
    assert len(before.captured_queries) > 2 * len(one.captured_queries)
