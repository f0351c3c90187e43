"""The ingest pipeline: all or nothing, exact counts, change versions only for real changes."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from steward.ingest.models import IngestBatch
from steward.ingest.records import BatchRejected
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, LearnerContact, SessionAttendance, Tombstone
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> Organisation:
    return factories.school("Elm Primary")


def ingest(school: Organisation, data: bytes, *, fmt: str = "csv-zip", mode: str = "full") -> IngestBatch:
    return batch_ingest(school=school, stream=io.BytesIO(data), format=fmt, mode=mode, sent_by="test").batch


def rejected(school: Organisation, data: bytes, **kwargs: Any) -> BatchRejected:
    with pytest.raises(BatchRejected) as caught:
        ingest(school, data, **kwargs)
    return caught.value


def versions(school: Organisation) -> dict[str, int]:
    with tenant_scope([school.id]):
        return dict(Learner.objects.values_list("source_id", "change_version"))


def test_a_full_batch_is_merged_with_exact_counts(school: Organisation) -> None:
    batch = ingest(school, b.csv_zip(b.small_school()))
    assert batch.status == "applied"
    assert batch.counts["learners"] == {"inserted": 2, "updated": 0, "unchanged": 0, "deleted": 0}
    assert batch.counts["session-attendance"]["inserted"] == 3
    with tenant_scope([school.id]):
        priya = Learner.objects.get(source_id="L2")
        assert (priya.legal_forename, priya.ethnicity, str(priya.date_of_birth)) == ("Priya", "AIND", "2015-03-02")
        assert LearnerContact.objects.get(source_id="LC1").parental_responsibility is True
        assert SessionAttendance.objects.get(source_id="L1:2026-09-03:PM").mark == "\\"


def test_the_same_file_twice_is_applied_once(school: Organisation) -> None:
    data = b.csv_zip(b.small_school())
    first = ingest(school, data)
    before = versions(school)
    again = batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="full", sent_by="test")
    assert (again.duplicate, again.batch.id) == (True, first.id)
    assert versions(school) == before


def test_only_changed_rows_get_a_new_change_version(school: Organisation) -> None:
    ingest(school, b.csv_zip(b.small_school()))
    before = versions(school)
    changed = b.small_school()
    changed["learners"][0]["preferred_forename"] = "Sammy"
    batch = ingest(school, b.csv_zip(changed))
    assert batch.counts["learners"] == {"inserted": 0, "updated": 1, "unchanged": 1, "deleted": 0}
    assert batch.counts["session-attendance"] == {"inserted": 0, "updated": 0, "unchanged": 3, "deleted": 0}
    after = versions(school)
    assert after["L2"] == before["L2"]
    assert after["L1"] > max(before.values())


def test_a_full_batch_tombstones_what_it_omits_and_what_referred_to_it(school: Organisation) -> None:
    ingest(school, b.csv_zip(b.small_school()))
    batch = ingest(school, b.csv_zip({"learners": [b.learner("L1")]}))
    assert batch.counts["learners"]["deleted"] == 1
    assert batch.counts["learner-contacts"]["deleted"] == 1
    assert batch.counts["session-attendance"]["deleted"] == 1
    with tenant_scope([school.id]):
        assert set(Tombstone.objects.values_list("record_type", "source_id")) == {
            ("learners", "L2"),
            ("learner-contacts", "LC2"),
            ("session-attendance", "L2:2026-09-03:AM"),
        }
        assert list(Learner.objects.values_list("source_id", flat=True)) == ["L1"]


def test_a_delta_batch_changes_and_deletes_only_what_it_names(school: Organisation) -> None:
    ingest(school, b.csv_zip(b.small_school()))
    batch = ingest(
        school,
        b.csv_zip({"learners": [b.learner("L3")]}, deletes=[("session-attendance", "L1:2026-09-03:AM")]),
        mode="delta",
    )
    assert batch.counts["learners"] == {"inserted": 1, "updated": 0, "unchanged": 0, "deleted": 0}
    assert batch.counts["session-attendance"]["deleted"] == 1
    with tenant_scope([school.id]):
        assert Learner.objects.count() == 3
        assert SessionAttendance.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["learners"][0].update(ethnicity="XXXX"),
            ("learners", "line 2", "L1", "ethnicity", "'XXXX' is not a code of ethnicity"),
        ),
        (
            lambda d: d["learners"][1].update(date_of_birth="2015-02-30"),
            ("learners", "line 3", "L2", "date_of_birth", "is not a valid date (expected YYYY-MM-DD)"),
        ),
        (
            lambda d: d["learners"][0].update(legal_surname=""),
            ("learners", "line 2", "L1", "legal_surname", "is required"),
        ),
        (
            lambda d: d["learner-contacts"][0].update(contact_source_id="C9"),
            ("learner-contacts", "line 2", "LC1", "contact_source_id", "refers to contact 'C9', which does not exist"),
        ),
        (
            lambda d: d["contacts"].append(b.contact("C1")),
            ("contacts", "line 2", "C1", "source_id", "appears 2 times in this batch"),
        ),
        (
            lambda d: d["session-attendance"][0].update(minutes_late="-3"),
            ("session-attendance", "line 2", "L1:2026-09-03:AM", "minutes_late", "must be at least 0"),
        ),
        (
            lambda d: d["learner-contacts"][1].update(parental_responsibility="perhaps"),
            ("learner-contacts", "line 3", "LC2", "parental_responsibility", "is not true or false"),
        ),
        (
            lambda d: d["contacts"][0].update(email="not-an-address"),
            ("contacts", "line 2", "C1", "email", "is not an email address"),
        ),
        (
            lambda d: d["learners"][0].update(upn="A" * 20),
            ("learners", "line 2", "L1", "upn", "is 20 characters long; the most is 13"),
        ),
    ],
)
def test_bad_input_is_rejected_with_record_field_and_reason_and_changes_nothing(
    school: Organisation, change: Any, expected: tuple[str, ...]
) -> None:
    ingest(school, b.csv_zip(b.small_school()))
    before = versions(school)
    data = b.small_school()
    data["learners"][0]["preferred_forename"] = "changed too"  # a good change that must not land either
    change(data)
    error = rejected(school, b.csv_zip(data))
    found = [(e.record_type, e.ref, e.source_id, e.field, e.reason) for e in error.errors]
    assert expected in found, found
    assert versions(school) == before
    with tenant_scope([school.id]):
        kept = IngestBatch.objects.get(status="rejected")
        assert expected[3] in {e["field"] for e in kept.errors}


def test_an_unknown_column_is_refused_by_name(school: Organisation) -> None:
    error = rejected(school, b.csv_zip({"learners": [b.learner("L1", shoe_size="5")]}))
    assert [(e.ref, e.field, e.reason) for e in error.errors] == [
        ("learners.csv line 1", "shoe_size", "is not a field of this record type")
    ]


def test_a_file_that_is_not_utf8_is_refused_with_its_line(school: Organisation) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("contacts.csv", b"source_id,forename,surname\nC1,Ann,Smith\nC2,Zo\xe9,Smith\n")
    error = rejected(school, buffer.getvalue())
    assert error.errors[0].ref == "contacts.csv line 3"
    assert "invalid byte sequence" in error.errors[0].reason


def test_a_zip_bomb_is_refused_before_it_is_unpacked(school: Organisation) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("learners.csv", b"source_id\n" + b"0" * (64 << 20))
    assert len(buffer.getvalue()) < 200_000
    error = rejected(school, buffer.getvalue())
    assert error.status == 413
    assert "zip bombs" in error.errors[0].reason


def test_json_and_ndjson_batches_take_the_same_path(school: Organisation) -> None:
    batch = ingest(school, b.json_batch(b.small_school()), fmt="json")
    assert batch.counts["learners"]["inserted"] == 2
    ndjson = (
        b'{"type": "learners", "record": {"source_id": "L9", "legal_forename": "Kit", "legal_surname": "Lee", '
        b'"date_of_birth": "2016-01-01", "gender": "M"}}\n{"type": "learners", "delete": "L2"}\n'
    )
    batch = ingest(school, ndjson, fmt="ndjson", mode="delta")
    assert batch.counts["learners"] == {"inserted": 1, "updated": 0, "unchanged": 0, "deleted": 1}


def test_a_json_error_points_at_the_record(school: Organisation) -> None:
    data = b.small_school()
    data["learners"][1]["gender"] = "Q"
    error = rejected(school, b.json_batch(data), fmt="json")
    assert [(e.ref, e.field) for e in error.errors] == [("$.records.learners[1]", "gender")]


def test_a_file_from_another_school_is_refused(school: Organisation) -> None:
    other = factories.school("Oak Academy")
    error = rejected(school, b.json_batch(b.small_school(), school={"urn": other.urn}), fmt="json")
    assert error.status == 403
    assert f"from URN {other.urn}" in error.errors[0].reason
    with tenant_scope([school.id]):
        assert Learner.objects.count() == 0


def test_one_schools_batch_never_touches_another_schools_rows(school: Organisation) -> None:
    other = factories.school("Oak Academy")
    ingest(other, b.csv_zip(b.small_school()))
    ingest(school, b.csv_zip({"learners": [b.learner("L1", legal_forename="Other")]}))
    with tenant_scope([other.id]):
        assert Learner.objects.get(source_id="L1").legal_forename == "Sam"
        assert Learner.objects.count() == 2


def test_a_delta_may_refer_to_records_sent_earlier(school: Organisation) -> None:
    ingest(school, b.csv_zip(b.small_school()))
    batch = ingest(
        school,
        b.csv_zip({"learners": [b.learner("L3")], "session-attendance": [b.mark("L2", "2026-09-04", "AM")]}),
        mode="delta",
    )
    assert batch.counts["session-attendance"]["inserted"] == 1


def test_ndjson_that_is_not_utf8_is_refused_with_its_line(school: Organisation) -> None:
    error = rejected(school, b'{"type": "learners", "delete": "L1"}\n\x89PNG\n', fmt="ndjson", mode="delta")
    assert [(e.ref, e.reason) for e in error.errors] == [("line 2", "is not UTF-8")]
