"""The mis app's privacy provider: export, erase and restrict a learner across every record type."""

from __future__ import annotations

import io

import pytest

from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, LearnerContact, ProcessingRestriction, SessionAttendance, Tombstone
from steward.mis.privacy import MisPrivacyProvider, _delete_with_tombstones
from steward.register.providers import Subject
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Privacy Primary")
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="test"
    )
    return school


def _learner(school: Organisation, source_id: str) -> Subject:
    with tenant_scope([school.id]):
        return Subject("learner", Learner.objects.get(source_id=source_id).id, school.id)


def test_export_gathers_the_learner_and_every_record_that_refers_to_them(school: Organisation) -> None:
    subject = _learner(school, "L1")
    with tenant_scope([school.id]):
        exported = MisPrivacyProvider().export_subject(subject)
    assert [r["source_id"] for r in exported["mis.Learner"]] == ["L1"]
    assert [r["source_id"] for r in exported["mis.LearnerContact"]] == ["LC1"]
    assert sorted(r["source_id"] for r in exported["mis.SessionAttendance"]) == ["L1:2026-09-03:AM", "L1:2026-09-03:PM"]
    assert "school" not in exported["mis.Learner"][0]


def test_erasure_previews_then_deletes_with_tombstones_for_recipients(school: Organisation) -> None:
    subject = _learner(school, "L1")
    provider = MisPrivacyProvider()
    with tenant_scope([school.id]):
        preview = provider.erase_subject(subject, dry_run=True)
        assert Learner.objects.filter(source_id="L1").exists()
        report = provider.erase_subject(subject, dry_run=False)
        assert not Learner.objects.filter(source_id="L1").exists()
        assert not SessionAttendance.objects.filter(learner_source_id="L1").exists()
        assert not LearnerContact.objects.filter(learner_source_id="L1").exists()
        tombstones = set(Tombstone.objects.values_list("record_type", "source_id"))
    assert preview.deleted == report.deleted
    assert report.deleted["mis.Learner"] == 1 and report.deleted["mis.SessionAttendance"] == 2
    assert {("learners", "L1"), ("learner-contacts", "LC1"), ("session-attendance", "L1:2026-09-03:AM")} <= tombstones
    assert "source of truth" in next(iter(report.kept.values()))


def test_restriction_is_recorded_and_lifted(school: Organisation) -> None:
    subject = _learner(school, "L2")
    provider = MisPrivacyProvider()
    with tenant_scope([school.id]):
        provider.restrict_subject(subject, restricted=True)
        provider.restrict_subject(subject, restricted=True)
        assert list(ProcessingRestriction.objects.values_list("record_type", "source_id")) == [("learners", "L2")]
        provider.restrict_subject(subject, restricted=False)
        assert not ProcessingRestriction.objects.exists()


def test_another_schools_learner_is_out_of_reach(school: Organisation) -> None:
    other = factories.school("Elsewhere")
    subject = _learner(school, "L1")
    with tenant_scope([other.id]):
        assert MisPrivacyProvider().export_subject(subject) == {}
        assert MisPrivacyProvider().erase_subject(subject, dry_run=False).deleted == {}
    with tenant_scope([school.id]):
        assert Learner.objects.filter(source_id="L1").exists()


def _same_ids_elsewhere() -> Organisation:
    """Another school whose MIS happens to use the same source ids (they are unique per school only)."""
    other = factories.school("Same Ids Primary")
    batch_ingest(
        school=other, stream=io.BytesIO(b.json_batch(b.small_school())), format="json", mode="full", sent_by="test"
    )
    return other


def _held(schools: list[Organisation]) -> set[tuple[int, str, str]]:
    with tenant_scope([s.id for s in schools]):
        learners = {(s, "learners", i) for s, i in Learner.objects.values_list("school_id", "source_id")}
        marks = {(s, "marks", i) for s, i in SessionAttendance.objects.values_list("school_id", "source_id")}
        return learners | marks


def test_erasure_in_a_scope_of_two_schools_touches_only_the_subjects_school(school: Organisation) -> None:
    """Row-level security would let both schools' L1 go in a two-school scope: the code names the school."""
    other = _same_ids_elsewhere()
    subject = _learner(school, "L1")
    before = _held([school, other])
    with tenant_scope([school.id, other.id]):
        MisPrivacyProvider().erase_subject(subject, dry_run=False)
        tombstones = set(Tombstone.objects.values_list("school_id", "record_type", "source_id"))
    gone = before - _held([school, other])
    assert gone == {
        (school.id, "learners", "L1"),
        (school.id, "marks", "L1:2026-09-03:AM"),
        (school.id, "marks", "L1:2026-09-03:PM"),
    }
    assert {s for s, _, _ in tombstones} == {school.id}


def test_deleting_with_tombstones_names_the_school_not_only_the_source_ids(school: Organisation) -> None:
    """The statement itself, with both schools visible: only the named school's L1 goes."""
    other = _same_ids_elsewhere()
    with tenant_scope([school.id, other.id]):
        _delete_with_tombstones(Learner, ["L1"], school_id=other.id)
        assert sorted(Learner.objects.filter(source_id="L1").values_list("school_id", flat=True)) == [school.id]
        assert list(Tombstone.objects.values_list("school_id", "source_id")) == [(other.id, "L1")]
