"""`steward pseudonymise`: a copy only under a data use agreement in force, and nothing original in it."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.consents import services
from steward.consents.models import DataUseAgreement, PseudonymisedCopy
from steward.consents.pseudonymise import FORENAMES, SURNAMES, drop_copy, hmac_hex
from steward.ingest.services import batch_ingest
from steward.mis.models import Homework, ProcessingRestriction, SchoolGroup
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.dates  # agreements in force from today

SCHEMA = "dev_copy_test"
SECRETS = [
    "Zebedee",
    "Quillfeather",
    "Ottoline",
    "Marchbanks",
    "A123456789012",
    "zebedee@family.example",
    "ottoline@family.example",
    "Bitten on the arm by Ottoline",
    "late because of a hospital appointment",
    "AB123456C",
    "Horatio Pennyworth",
    "07700900123",
    "Flat 3 Gable House",
]


def _records() -> dict[str, list[dict[str, Any]]]:
    return {
        "school-details": [{"source_id": "SD", "name": "Copy Primary", "head_teacher": "Horatio Pennyworth"}],
        "learners": [
            b.learner(
                "L1",
                legal_forename="Zebedee",
                legal_surname="Quillfeather",
                upn="A123456789012",
                email="zebedee@family.example",
                religion="CHR",
                address_line1="Flat 3 Gable House",
                date_of_birth="2015-03-02",
            ),
            b.learner("L2", legal_forename="Ottoline", legal_surname="Marchbanks", date_of_birth="2016-07-09"),
        ],
        "contacts": [
            b.contact("C1", forename="Ottoline", surname="Quillfeather", email="ottoline@family.example"),
            b.contact("C2", forename="Zebedee", surname="Marchbanks", phone_mobile="07700900123"),
        ],
        "learner-contacts": [b.link("LC1", "L1", "C1"), b.link("LC2", "L2", "C2")],
        "session-attendance": [
            {**b.mark("L1", "2026-09-03", "AM", "L"), "comment": "late because of a hospital appointment"},
            b.mark("L2", "2026-09-03", "AM"),
        ],
        "behaviours": [
            {
                "source_id": "B1",
                "learner_source_id": "L2",
                "behaviour_type": "Physical assault",
                "comments": "Bitten on the arm by Ottoline",
                "event_date": "2026-09-10",
            }
        ],
        "special-needs": [
            {
                "source_id": "S1",
                "learner_source_id": "L1",
                "provision": "K",
                "need_types": ["SPLD"],
                "start_date": "2025-09-01",
            }
        ],
        "staff": [{"source_id": "T1", "forename": "Horatio", "surname": "Pennyworth", "ni_number": "AB123456C"}],
    }


@pytest.fixture
def school(committed_db: None) -> Iterator[Organisation]:
    school = factories.school("Copy Primary")
    result = batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(_records())), format="csv-zip", mode="full", sent_by="test"
    )
    assert result.batch.status == "applied", result.batch.errors
    yield school
    drop_copy(SCHEMA)


@pytest.fixture
def dpo(school: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, school)


def _sign(school: Organisation, dpo: User, **overrides: Any) -> DataUseAgreement:
    today = timezone.localdate()
    terms: dict[str, Any] = {
        "record_types": [
            "school-details",
            "learners",
            "contacts",
            "learner-contacts",
            "session-attendance",
            "behaviours",
            "special-needs",
            "staff",
        ],
        "purpose": "Testing the attendance report on realistic data",
        "recipient": "Steward development team",
        "starts_on": today - dt.timedelta(days=1),
        "expires_on": today + dt.timedelta(days=30),
        **overrides,
    }
    with tenant_scope([school.id]):
        return services.agreement_sign(school=school, signed_by=dpo, **terms, actor=Actor.of_user(dpo))


def _rows(table: str) -> list[dict[str, Any]]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{SCHEMA}"."{table}" ORDER BY id')
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _columns(table: str) -> set[str]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            [SCHEMA, table],
        )
        return {name for (name,) in cursor.fetchall()}


def _original(model_table: str, column: str, source_id: str) -> Any:
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM public."{model_table}" WHERE source_id = %s', [source_id])
        return cursor.fetchone()[0]  # type: ignore[index]


def _pseudonymise(school: Organisation) -> str:
    out = io.StringIO()
    call_command("pseudonymise", "--school", str(school.urn), "--target-schema", SCHEMA, "--by", "dev@ict", stdout=out)
    return out.getvalue()


def test_the_copy_holds_every_row_with_nothing_original_in_any_text_column(school: Organisation, dpo: User) -> None:
    agreement = _sign(school, dpo)
    output = _pseudonymise(school)

    with tenant_scope([school.id]):
        copy = PseudonymisedCopy.objects.get()
    assert (copy.agreement_id, copy.schema_name, copy.made_by) == (agreement.id, SCHEMA, "dev@ict")
    # Special needs are all special category: left out whole, since the agreement does not name them.
    assert copy.row_counts == {
        "school-details": 1,
        "learners": 2,
        "contacts": 2,
        "learner-contacts": 2,
        "session-attendance": 2,
        "behaviours": 1,
        "staff": 1,
    }
    assert f"pseudonymised copy {copy.id} in schema {SCHEMA}" in output
    assert {t: len(_rows(f"mis_{t}")) for t in ("learner", "contact", "learnercontact", "staff")} == {
        "learner": 2,
        "contact": 2,
        "learnercontact": 2,
        "staff": 1,
    }

    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
            " AND data_type IN ('text', 'character varying', 'ARRAY')",
            [SCHEMA],
        )
        text_columns = cursor.fetchall()
        values = []
        for table, column in text_columns:
            cursor.execute(f'SELECT "{column}"::text FROM "{SCHEMA}"."{table}"')
            values += [v for (v,) in cursor.fetchall() if v]
    assert len(text_columns) > 20 and values
    leaked = sorted({s for s in SECRETS for v in values if s.lower() in v.lower()})
    assert leaked == []

    with tenant_scope([school.id]):
        event = AuditEvent.objects.get(action="pseudonymised_copy_made")
    assert event.object_ids == [str(copy.id)] and event.detail["rows"]["learners"] == 2


def test_pseudonyms_are_hmacs_and_stable_across_tables(school: Organisation, dpo: User) -> None:
    agreement = _sign(school, dpo)
    _pseudonymise(school)
    key = agreement.secret_key

    learners = {r["source_id"]: r for r in _rows("mis_learner")}
    contacts = {r["source_id"]: r for r in _rows("mis_contact")}
    links = _rows("mis_learnercontact")
    token_l1, token_c1 = hmac_hex(key, "L1")[:32].upper(), hmac_hex(key, "C1")[:32].upper()
    assert token_l1 in learners and token_c1 in contacts
    # The same contact has the same pseudonymous id in contacts and in the learner-contact links.
    assert {(r["learner_source_id"], r["contact_source_id"]) for r in links} >= {(token_l1, token_c1)}
    # The same name maps to the same pseudonym wherever it appears: a learner's surname and a contact's.
    assert learners[token_l1]["legal_surname"] == contacts[token_c1]["surname"]
    assert learners[token_l1]["legal_surname"] in SURNAMES and learners[token_l1]["legal_forename"] in FORENAMES
    assert learners[token_l1]["upn"] == hmac_hex(key, "A123456789012")[:13].upper()
    assert learners[token_l1]["email"] == hmac_hex(key, "zebedee@family.example")[:16] + "@example.invalid"
    assert _rows("mis_staff")[0]["ni_number"] == hmac_hex(key, "AB123456C")[:9].upper()


def test_dates_move_by_one_offset_per_learner(school: Organisation, dpo: User) -> None:
    agreement = _sign(school, dpo)
    _pseudonymise(school)
    token = hmac_hex(agreement.secret_key, "L1")[:32].upper()
    learner = next(r for r in _rows("mis_learner") if r["source_id"] == token)
    mark = next(r for r in _rows("mis_sessionattendance") if r["learner_source_id"] == token)
    dob_shift = learner["date_of_birth"] - _original("mis_learner", "date_of_birth", "L1")
    mark_shift = mark["date"] - _original("mis_sessionattendance", "date", "L1:2026-09-03:AM")
    assert dob_shift == mark_shift and dob_shift != dt.timedelta(0) and abs(dob_shift.days) <= 180


def test_free_text_photos_and_special_categories_leave_the_copy(school: Organisation, dpo: User) -> None:
    _sign(school, dpo)
    _pseudonymise(school)
    assert {"photo", "religion", "ethnicity"}.isdisjoint(_columns("mis_learner"))
    assert "first_language" in _columns("mis_learner")
    assert [r["comment"] for r in _rows("mis_sessionattendance")] == ["", ""]
    assert [r["comments"] for r in _rows("mis_behaviour")] == [""]
    assert _columns("mis_specialneeds") == set()


def test_special_categories_the_agreement_names_are_kept(school: Organisation, dpo: User) -> None:
    _sign(school, dpo, special_categories=["learner.special.sen", "learner.special.religion"])
    _pseudonymise(school)
    needs = _rows("mis_specialneeds")
    assert [(r["provision"], r["need_types"]) for r in needs] == [("K", ["SPLD"])]
    assert "religion" in _columns("mis_learner") and "ethnicity" not in _columns("mis_learner")


@pytest.mark.parametrize(
    "terms",
    [
        None,
        {"starts_on": dt.date(2020, 1, 1), "expires_on": dt.date(2020, 12, 31)},
        {"revoked": True},
    ],
    ids=["no agreement", "expired agreement", "revoked agreement"],
)
def test_no_copy_without_an_agreement_in_force(school: Organisation, dpo: User, terms: dict[str, Any] | None) -> None:
    if terms is not None:
        revoke = terms.pop("revoked", False)
        agreement = _sign(school, dpo, **terms)
        if revoke:
            with tenant_scope([school.id]):
                services.agreement_revoke(agreement=agreement, actor=Actor.system("test"))
    with pytest.raises(CommandError, match="refused: no data use agreement is in force"):
        _pseudonymise(school)
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [SCHEMA])
        assert cursor.fetchone() == (0,)
    with tenant_scope([school.id]):
        assert not PseudonymisedCopy.objects.exists()
        assert AuditEvent.objects.filter(action="pseudonymised_copy_refused").count() == 1


def test_an_existing_schema_is_never_overwritten(school: Organisation, dpo: User) -> None:
    _sign(school, dpo)
    _pseudonymise(school)
    with pytest.raises(CommandError, match="already exists"):
        _pseudonymise(school)
    with tenant_scope([school.id]):
        assert PseudonymisedCopy.objects.count() == 1


def test_restricted_subjects_and_every_row_about_them_stay_out_of_the_copy(school: Organisation, dpo: User) -> None:
    with tenant_scope([school.id]):
        for record_type, source_id in (("learners", "L1"), ("contacts", "C2"), ("staff", "T1")):
            ProcessingRestriction.objects.create(school=school, record_type=record_type, source_id=source_id)
    agreement = _sign(school, dpo)
    _pseudonymise(school)

    def token(source_id: str) -> str:
        return hmac_hex(agreement.secret_key, source_id)[:32].upper()

    assert [r["source_id"] for r in _rows("mis_learner")] == [token("L2")]
    assert [r["source_id"] for r in _rows("mis_contact")] == [token("C1")]
    assert _rows("mis_learnercontact") == []  # LC1 names the learner L1, LC2 the contact C2
    assert [r["learner_source_id"] for r in _rows("mis_sessionattendance")] == [token("L2")]
    assert [r["learner_source_id"] for r in _rows("mis_behaviour")] == [token("L2")]
    assert _rows("mis_staff") == []
    with tenant_scope([school.id]):
        counts = PseudonymisedCopy.objects.get().row_counts
    assert (counts["learners"], counts["learner-contacts"], counts["staff"]) == (1, 0, 0)


def test_a_homework_title_is_free_text_and_is_emptied(school: Organisation, dpo: User) -> None:
    with tenant_scope([school.id]):
        SchoolGroup.objects.create(school=school, source_id="G1", name="7A", group_type="REG")
        Homework.objects.create(
            school=school, source_id="H1", group_source_id="G1", title="Help Zebedee Quillfeather catch up",
            description="Zebedee missed the trip", subject="English", set_date=dt.date(2026, 9, 1),
            due_date=dt.date(2026, 9, 8),
        )  # fmt: skip
    _sign(school, dpo, record_types=["groups", "homework"])
    _pseudonymise(school)
    (homework,) = _rows("mis_homework")
    assert (homework["title"], homework["description"], homework["subject"]) == ("", "", "English")
    assert [r["name"] for r in _rows("mis_schoolgroup")] == ["7A"]
