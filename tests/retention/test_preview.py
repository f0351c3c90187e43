"""The retention preview applies the register's rules to what is held, and deletes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.core.management import call_command

from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.register.models import Recipient
from steward.retention.selectors import retention_preview, unevaluated_rules
from steward.sharing.models import Disclosure
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Retention Primary", services_=("hosted_mis", "data_exchange"))
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
