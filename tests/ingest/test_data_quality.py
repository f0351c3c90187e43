"""What the DfE's Common Basic Data Set defines is checked at ingest: UPN check letters, postcodes,
NI and teacher numbers, dates in plain form and in a plausible range. Set-based, like every rule.

Dates near today are written relative to `timezone.localdate()` (what the batch is checked
against), so these tests hold on any day.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from steward.ingest.models import IngestBatch
from steward.ingest.records import BatchRejected
from steward.ingest.services import batch_ingest
from steward.mis.identifiers import UPN_LETTERS, is_valid_upn, make_upn, upn_check_letter, upn_check_letter_sql
from steward.mis.models import Learner, SessionAttendance
from steward.tenancy import services as tenancy
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def _ingest(school: Organisation, data: bytes, fmt: str = "csv-zip") -> IngestBatch:
    return batch_ingest(school=school, stream=io.BytesIO(data), format=fmt, mode="full", sent_by="test").batch


def _errors(school: Organisation, data: bytes, fmt: str = "csv-zip") -> list[tuple[str, str | None, str, str]]:
    with pytest.raises(BatchRejected) as caught:
        _ingest(school, data, fmt)
    return [(e.ref, e.source_id, e.field, e.reason) for e in caught.value.errors]


def _years(years: int) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year + years, day=28 if (today.month, today.day) == (2, 29) else today.day)


def _staff(**fields: Any) -> dict[str, Any]:
    return {"source_id": "S1", "forename": "Ada", "surname": "Byron", **fields}


def test_the_upn_check_letter_is_the_dfe_modulus_23_check() -> None:
    assert make_upn("881", "2001", 2025, 1) == "F881200125001"
    assert is_valid_upn("B801200005001")
    assert not is_valid_upn("A801200005001")
    temporary = "88120012501"
    letter = upn_check_letter(temporary + "A")
    assert is_valid_upn(letter + temporary + "A")
    assert not any(is_valid_upn(f"{c}{temporary}A") for c in UPN_LETTERS if c != letter)
    assert not is_valid_upn("F881200125O01")  # an O, not a zero
    assert not is_valid_upn(f"{upn_check_letter(temporary + 'A')}{temporary}I")  # I is no UPN letter


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.text("0123456789", min_size=11, max_size=11), st.sampled_from("0123456789" + UPN_LETTERS)),
        min_size=1,
        max_size=40,
    )
)
def test_postgresql_computes_the_same_check_letter_as_python(bodies: list[tuple[str, str]]) -> None:
    upns = ["?" + "".join(parts) for parts in bodies]  # the check letter's place left unknown
    query = sql.SQL("SELECT u, {} FROM unnest(%s::text[]) AS t(u)").format(upn_check_letter_sql(sql.SQL("u")))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(cursor.connection), [upns])
        computed = dict(cursor.fetchall())
    assert computed == {u: upn_check_letter(u[1:]) for u in upns}


@pytest.mark.parametrize(
    ("record_type", "record", "field", "reasons"),
    [
        (
            "learners",
            b.learner("L1", upn="A881200125001"),
            "upn",
            ["has the wrong check letter (the DfE's modulus 23 check of characters 2 to 13)"],
        ),
        (
            "learners",
            b.learner("L1", former_upn="G881200125001"),
            "former_upn",
            ["has the wrong check letter (the DfE's modulus 23 check of characters 2 to 13)"],
        ),
        (
            "learners",
            b.learner("L1", upn="F88120012500"),
            "upn",
            ["is not a UPN: a check letter, 11 digits, then a digit (or a letter if temporary)"],
        ),
        (
            "learners",
            b.learner("L1", upn="f881200125001"),
            "upn",
            ["is not a UPN: a check letter, 11 digits, then a digit (or a letter if temporary)"],
        ),
        (
            "learners",
            b.learner("L1", postcode="CM2 9A"),
            "postcode",
            ["is not a UK postcode in capitals (e.g. CM2 9AB)"],
        ),
        (
            "contacts",
            b.contact("C1", postcode="12345"),
            "postcode",
            ["is not a UK postcode in capitals (e.g. CM2 9AB)"],
        ),
        (
            "staff",
            _staff(ni_number="AB12345C"),
            "ni_number",
            ["is not a National Insurance number: two letters, six digits, A to D"],
        ),
        (
            "staff",
            _staff(teacher_number="12345A7"),
            "teacher_number",
            ["is not a teacher reference number: 7 digits"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth="today"),
            "date_of_birth",
            ["is not a valid date (expected YYYY-MM-DD)"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth="infinity"),
            "date_of_birth",
            ["is not a valid date (expected YYYY-MM-DD)"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth="20150-03-02"),
            "date_of_birth",
            ["is not a valid date (expected YYYY-MM-DD)"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth="0215-03-02"),
            "date_of_birth",
            ["is not in the years 1900 to 2099", "is more than 30 years ago"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth=(timezone.localdate() + dt.timedelta(days=1)).isoformat()),
            "date_of_birth",
            ["is in the future"],
        ),
        (
            "learners",
            b.learner("L1", date_of_birth=(_years(-30) - dt.timedelta(days=1)).isoformat()),
            "date_of_birth",
            ["is more than 30 years ago"],
        ),
        (
            "staff",
            _staff(date_of_birth=(_years(-100) - dt.timedelta(days=1)).isoformat()),
            "date_of_birth",
            ["is more than 100 years ago"],
        ),
        (
            "session-attendance",
            b.mark("L1", (_years(1) + dt.timedelta(days=1)).isoformat(), "AM"),
            "date",
            ["is more than 1 year ahead"],
        ),
        (
            "diary-events",
            {"source_id": "D1", "description": "Sports day", "starts_at": "infinity"},
            "starts_at",
            ["is not a valid date and time (expected ISO 8601, e.g. 2026-09-03T09:00:00+01:00)"],
        ),
        (
            "diary-events",
            {"source_id": "D1", "description": "Sports day", "starts_at": "1066-10-14T09:00:00+00:00"},
            "starts_at",
            ["is not in the years 1900 to 2099"],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_value_the_data_standard_does_not_allow_is_refused_and_nothing_is_applied(
    record_type: str, record: dict[str, Any], field: str, reasons: list[str]
) -> None:
    school = factories.school("Hazel Primary")
    records: dict[str, list[dict[str, Any]]] = {record_type: [record]}
    if record_type == "session-attendance":
        records["learners"] = [b.learner("L1")]
    errors = _errors(school, b.csv_zip(records))
    assert [(ref, sid, reason) for ref, sid, f, reason in errors if f == field] == [
        ("line 2", record["source_id"], reason) for reason in reasons
    ], errors
    with tenant_scope([school.id]):
        assert not Learner.objects.exists()
        assert IngestBatch.objects.get().status == IngestBatch.Status.REJECTED


def test_values_the_standard_allows_are_applied() -> None:
    school = factories.school("Hazel Primary")
    temporary = "88120012501X"
    learners = [
        b.learner("L1", upn=make_upn("881", "2001", 2025, 1), former_upn="B801200005001", postcode="CM2 9AB"),
        b.learner("L2", upn=upn_check_letter(temporary) + temporary, postcode="EC1A1BB"),
        b.learner("L3", postcode="W1A 0AX", date_of_birth=timezone.localdate().isoformat()),
        b.learner("L4", postcode="M1 1AE", date_of_birth=_years(-30).isoformat()),
    ]
    staff = [_staff(ni_number="AB123456C", teacher_number="1234567", date_of_birth=_years(-100).isoformat())]
    marks = [b.mark("L1", _years(1).isoformat(), "AM"), b.mark("L1", _years(-30).isoformat(), "PM")]
    batch = _ingest(school, b.csv_zip({"learners": learners, "staff": staff, "session-attendance": marks}))
    assert batch.counts["learners"]["inserted"] == 4
    with tenant_scope([school.id]):
        assert SessionAttendance.objects.count() == 2


def test_a_ctf_with_one_pupils_wrong_check_letter_is_refused_whole() -> None:
    """The report: a CTF written from the DfE structure, one pupil's check letter wrong, was applied."""
    from lxml import etree

    text = (FIXTURES / "ctf_sample.xml").read_text()
    header = etree.fromstring(text.encode()).find("Header/SourceSchool")
    assert header is not None
    school = tenancy.school_create(
        name="Sample School",
        urn=int(header.findtext("URN") or 0),
        la_code=header.findtext("LEA") or "",
        establishment_number=header.findtext("Estab") or "",
        phase="primary",
    )
    upns = etree.fromstring(text.encode()).xpath("//Pupil/UPN/text()")
    assert len(upns) > 1 and all(is_valid_upn(u) for u in upns)
    wrong = next(c for c in UPN_LETTERS if c != upns[0][0]) + upns[0][1:]
    errors = _errors(school, text.replace(upns[0], wrong).encode(), fmt="ctf")
    assert [(sid, f, reason) for _, sid, f, reason in errors] == [
        (wrong, "upn", "has the wrong check letter (the DfE's modulus 23 check of characters 2 to 13)")
    ]
    with tenant_scope([school.id]):
        assert not Learner.objects.exists()
