"""The sweep deletes what the preview lists, leaves proofs, respects legal holds, replays after a restore."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from steward.audit.actor import Actor
from steward.core.schedule import SCHEDULE
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner, LearnerContact, SchoolEnrolment, SessionAttendance, Tombstone
from steward.portal.models import ParentAccount, ParentLink
from steward.register.models import Recipient
from steward.retention.models import RestoreReplay, RetentionProof
from steward.retention.selectors import retention_preview
from steward.retention.services import backup_record, hold_lift, hold_place, retention_sweep
from steward.rights import services as rights
from steward.sharing.models import Disclosure
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`
TODAY = dt.date(2026, 11, 25)


def _records() -> dict[str, list[dict[str, str]]]:
    photo = base64.b64encode(b"\xff\xd8\xff fake jpeg").decode()
    records = b.small_school()
    records["learners"][0]["photo"] = photo
    records["learners"][1]["photo"] = photo
    records["school-enrolments"] = [
        {"source_id": "E1", "learner_source_id": "L1", "entry_date": "2020-09-01", "leaving_date": "2026-07-20",
         "enrolment_status": "C"},
        {"source_id": "E2", "learner_source_id": "L2", "entry_date": "2020-09-01", "leaving_date": "2026-07-20",
         "enrolment_status": "C"},
    ]  # fmt: skip
    return records


def _ingest(school: Organisation, *, restored: bool = False) -> None:
    records = _records()
    if restored:  # the same rows, in a file that is not byte-identical (identical files are skipped as duplicates)
        records["contacts"].append(b.contact("C3"))
    stream = io.BytesIO(b.json_batch(records))
    batch_ingest(school=school, stream=stream, format="json", mode="full", sent_by="t")


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Sweep Primary", services_=("hosted_mis", "data_exchange", "parent_portal"))
    _ingest(school)
    return school


def _disclosure(school: Organisation, at: dt.datetime, subject: str) -> None:
    Disclosure.objects.create(
        school=school, recipient=Recipient.objects.get(code="la-attendance"), flows=[1], record_type="learners",
        channel="api", record_count=1, version_from=0, version_to=1, record_ids=[subject], subject_ids=[subject], at=at,
    )  # fmt: skip


def test_the_sweep_deletes_exactly_what_the_preview_listed_and_leaves_proofs(school: Organisation) -> None:
    with tenant_scope([school.id]):
        _disclosure(school, dt.datetime(2018, 1, 1, tzinfo=dt.UTC), "L1")
        _disclosure(school, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "L1")
    preview = {d.what: d.rows for d in retention_preview(today=TODAY, schools=[school])}
    assert preview == {"photographs of learners who left": 2, "disclosure log entries": 1}

    proofs = retention_sweep(today=TODAY, schools=[school], processor_wide=False)

    assert {p.what: p.rows for p in proofs} == preview
    assert {(p.school_id, p.category, p.run) for p in proofs} == {
        (school.id, "learner.photo", "sweep"),
        (school.id, "", "sweep"),
    }
    with tenant_scope([school.id]):
        assert Learner.objects.exclude(photo=None).count() == 0
        assert Learner.objects.count() == 2  # a photo rule removes photos, not learners
        assert list(Disclosure.objects.values_list("at__year", flat=True)) == [2026]
    assert retention_preview(today=TODAY, schools=[school]) == []
    assert retention_sweep(today=TODAY, schools=[school], processor_wide=False) == []


def test_an_ended_contract_deletes_hosted_data_with_tombstones_but_not_a_held_learner(school: Organisation) -> None:
    Contract.objects.filter(school=school).update(end_date=dt.date(2026, 10, 1), status=Contract.Status.ENDED)
    hold = hold_place(
        school=school, subject_kind="learner", subject_source_id="L1", reason="Claim 123 at the county court",
        placed_by="DPO",
    )  # fmt: skip
    with tenant_scope([school.id]):
        held_rows = (
            Learner.objects.filter(source_id="L1").count()
            + SessionAttendance.objects.filter(learner_source_id="L1").count()
        )
    due = {d.what: d for d in retention_preview(today=TODAY, schools=[school])}["all hosted MIS data"]
    assert (due.held, due.held_reason) == (held_rows + 2, "Claim 123 at the county court")  # + link, enrolment
    assert due.rows + due.held == 11

    proofs = retention_sweep(today=TODAY, schools=[school], processor_wide=False)

    assert {p.what: p.rows for p in proofs}["all hosted MIS data"] == due.rows
    with tenant_scope([school.id]):
        assert list(Learner.objects.values_list("source_id", flat=True)) == ["L1"]
        assert Tombstone.objects.filter(record_type="learners").count() == 1  # recipients hear of L2
    hold_lift(hold=hold, lifted_by="DPO")
    retention_sweep(today=TODAY, schools=[school], processor_wide=False)
    with tenant_scope([school.id]):
        assert Learner.objects.count() == 0


def test_a_school_wide_hold_stops_every_deletion_and_the_preview_says_why(school: Organisation) -> None:
    hold_place(school=school, reason="ICO inquiry", placed_by="DPO")
    due = retention_preview(today=TODAY, schools=[school])
    assert [(d.what, d.rows, d.held, d.held_reason) for d in due] == [
        ("photographs of learners who left", 0, 2, "ICO inquiry")
    ]
    assert retention_sweep(today=TODAY, schools=[school], processor_wide=False) == []
    with tenant_scope([school.id]):
        assert Learner.objects.exclude(photo=None).count() == 2


def test_erasure_is_refused_for_a_held_subject(school: Organisation) -> None:
    hold_place(school=school, subject_kind="learner", subject_source_id="L1", reason="Claim", placed_by="DPO")
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        request = rights.request_log(
            school=school, kind="erasure", subject_kind="learner", subject_id=learner.pk, subject_label="L1",
            requested_by="parent", received_on=TODAY - dt.timedelta(days=400), actor=Actor.system("DPO"),
        )  # fmt: skip
        request.identity_checked = True
        request.save()
        with pytest.raises(ValidationError, match="legal hold"):
            rights.erasure_execute(request=request, actor=Actor.system("DPO"))
        assert Learner.objects.filter(source_id="L1").exists()


def test_closed_portal_accounts_go_30_days_after_closing(school: Organisation) -> None:
    old = ParentAccount.objects.create(
        email="old@example.invalid", full_name="Old", closed_at=timezone.now() - dt.timedelta(days=40)
    )
    with tenant_scope([school.id]):
        ParentLink.objects.create(parent=old, school=school, contact_source_id="C1")
    ParentAccount.objects.create(
        email="new@example.invalid", full_name="New", closed_at=timezone.now() - dt.timedelta(days=5)
    )
    ParentAccount.objects.create(email="open@example.invalid", full_name="Open")
    today = timezone.localdate()
    due = [d for d in retention_preview(today=today, schools=[], processor_wide=True)]
    assert [(d.school, d.what, d.rows) for d in due] == [(None, "closed parent portal accounts", 1)]
    proofs = retention_sweep(today=today, schools=[], processor_wide=True)
    assert [(p.school_id, p.rows) for p in proofs] == [(None, 1)]
    assert sorted(ParentAccount.objects.values_list("email", flat=True)) == [
        "new@example.invalid",
        "open@example.invalid",
    ]
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not ParentLink.objects.exists()


def test_erasures_are_replayed_after_a_backup_is_restored(school: Organisation) -> None:
    backup = backup_record(taken_at=timezone.now() - dt.timedelta(hours=1), place="uk-backup", location="vault/1",
                           school_ids=[school.id])  # fmt: skip
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L2")
        request = rights.request_log(
            school=school, kind="erasure", subject_kind="learner", subject_id=learner.pk, subject_label="L2",
            requested_by="parent", received_on=TODAY - dt.timedelta(days=400), actor=Actor.system("DPO"),
        )  # fmt: skip
        request.identity_checked = True
        request.save()
        rights.erasure_execute(request=request, actor=Actor.system("DPO"))
        gone = SessionAttendance.objects.filter(learner_source_id="L2").count()
        assert not Learner.objects.filter(source_id="L2").exists()
    with tenant_scope([school.id]):
        assert list(RestoreReplay.objects.values_list("kind", "target", "source_ids")) == [
            ("subject_erasure", "learners", ["L2"])
        ]
    _ingest(school, restored=True)  # the restore brings the same MIS rows back
    with tenant_scope([school.id]):
        assert Learner.objects.filter(source_id="L2").exists()
    call_command("backup", "replay", backup=backup.pk)
    with tenant_scope([school.id]):
        assert not Learner.objects.filter(source_id="L2").exists()
        assert SessionAttendance.objects.filter(learner_source_id="L2").count() == gone == 0
        assert Learner.objects.filter(source_id="L1").exists()


def test_a_backup_is_kept_seven_years_at_most() -> None:
    now = timezone.now()
    with pytest.raises(ValidationError, match="seven years"):
        backup_record(
            taken_at=now, place="uk-backup", location="v", school_ids=[], kept_until=now + dt.timedelta(days=2556)
        )
    assert (backup_record(taken_at=now, place="uk-backup", location="v", school_ids=[]).kept_until - now).days == 2555


@pytest.mark.time_machine(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))  # the command sweeps as at today: TODAY
def test_the_sweep_is_scheduled_nightly_and_the_command_runs_it(
    school: Organisation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ("daily", "steward.retention.tasks.retention_sweep_task") in {(e.when, e.task) for e in SCHEDULE}
    call_command("retention", "sweep", school=school.urn)
    assert "Swept:" in capsys.readouterr().out
    assert set(RetentionProof.objects.filter(school=school).values_list("what", flat=True)) == {
        "photographs of learners who left"
    }


def test_leavers_records_go_365_days_after_leaving_with_tombstones_unless_held() -> None:
    school = factories.school("Leavers Primary", services_=("hosted_mis",))
    records = b.small_school()
    records["learners"].append(b.learner("L3", legal_forename="Hana"))
    records["session-attendance"].append(b.mark("L3", "2025-06-03", "AM"))
    records["school-enrolments"] = [
        {"source_id": "E1", "learner_source_id": "L1", "entry_date": "2018-09-01", "leaving_date": "2025-10-21",
         "enrolment_status": "C"},  # 400 days before TODAY
        {"source_id": "E2", "learner_source_id": "L2", "entry_date": "2018-09-01", "leaving_date": "2026-08-17",
         "enrolment_status": "C"},  # 100 days before TODAY
        {"source_id": "E3", "learner_source_id": "L3", "entry_date": "2018-09-01", "leaving_date": "2025-10-21",
         "enrolment_status": "C"},
    ]  # fmt: skip
    batch_ingest(school=school, stream=io.BytesIO(b.json_batch(records)), format="json", mode="full", sent_by="t")
    hold_place(school=school, subject_kind="learner", subject_source_id="L3", reason="Tribunal", placed_by="DPO")

    due = {d.what: d for d in retention_preview(today=TODAY, schools=[school])}
    leavers = due["records of learners who left"]
    # L1, their contact link, two attendance marks and their enrolment; L3's learner, mark and enrolment held
    assert (leavers.rows, leavers.held, leavers.held_reason) == (5, 3, "Tribunal")
    assert leavers.rule.category is not None
    assert (leavers.rule.period_days, leavers.rule.category.code) == (365, "learner.identity")

    proofs = retention_sweep(today=TODAY, schools=[school], processor_wide=False)

    assert [(p.what, p.rows, p.category) for p in proofs] == [("records of learners who left", 5, "learner.identity")]
    with tenant_scope([school.id]):
        assert sorted(Learner.objects.values_list("source_id", flat=True)) == ["L2", "L3"]
        assert not SessionAttendance.objects.filter(learner_source_id="L1").exists()
        assert SessionAttendance.objects.filter(learner_source_id="L3").count() == 1
        assert sorted(SchoolEnrolment.objects.values_list("source_id", flat=True)) == ["E2", "E3"]
        assert list(LearnerContact.objects.values_list("source_id", flat=True)) == ["LC2"]
        assert Contact.objects.count() == 2  # contacts are not the leaver's records
        stones = dict(Tombstone.objects.values_list("record_type").annotate(n=Count("id")))
        assert stones == {"learners": 1, "learner-contacts": 1, "session-attendance": 2, "school-enrolments": 1}
        assert Tombstone.objects.get(record_type="learners").source_id == "L1"
    with tenant_scope([school.id]):
        assert RestoreReplay.objects.filter(kind="mis_records", target="learners", source_ids=["L1"]).exists()
    after = retention_preview(today=TODAY, schools=[school])
    assert [(d.what, d.rows, d.held) for d in after] == [("records of learners who left", 0, 3)]
