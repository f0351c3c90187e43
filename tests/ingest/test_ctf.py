"""Reading and writing DfE Common Transfer Files: pure functions, no database."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from steward.ingest.ctf import parse_ctf, write_ctf
from steward.ingest.records import BatchContent, BatchRejected, RecordError, Row, SourceSchool, Value
from steward.ingest.schema import spec_for

FIXTURES = Path(__file__).parent / "fixtures"
AMARA = "V881200119014"
JAKUB = "A881200119027"
SAFIYA = "H881200120005"
SOURCE = {"la_code": "881", "establishment_number": "2001", "urn": "114876", "name": "Greenfield Primary School"}


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _rows(content: BatchContent, record_type: str) -> list[Row]:
    return list(content.rows[record_type])


def _by_id(content: BatchContent) -> dict[str, dict[str, dict[str, Value]]]:
    return {t: {str(v["source_id"]): v for _, v in rows} for t, rows in content.rows.items()}


def _rejection(data: bytes, **options: Any) -> BatchRejected:
    with pytest.raises(BatchRejected) as caught:
        parse_ctf(data, **options)
    return caught.value


def _ctf(pupils: str, *, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    """A minimal CTF from source school 881/2001 around the given <Pupil> elements."""
    return (
        f"{prolog}<CTfile><Header><SourceSchool><LEA>881</LEA><Estab>2001</Estab></SourceSchool></Header>"
        f"<CTFpupilData>{pupils}</CTFpupilData></CTfile>"
    ).encode()


def _marks_pupil(start: str, marks: str) -> str:
    return (
        f"<Pupil><UPN>{AMARA}</UPN><Attendance><YearData><LEA>881</LEA><Estab>2001</Estab><AttendSessions>"
        f"<AttendanceStartDate>{start}</AttendanceStartDate><AttendanceMarks>{marks}</AttendanceMarks>"
        "</AttendSessions></YearData></Attendance></Pupil>"
    )


def _sessions(content: BatchContent, upn: str = AMARA) -> list[tuple[str, str, str]]:
    rows = _rows(content, "session-attendance")
    return [(str(v["date"]), str(v["session"]), str(v["mark"])) for _, v in rows if v["learner_source_id"] == upn]


# --- a realistic file -----------------------------------------------------------------------------


def test_sample_file_gives_the_source_school_and_each_record_type() -> None:
    content = parse_ctf(_fixture("ctf_sample.xml"))

    assert content.source_school == SourceSchool(urn=114876, la_code="881", establishment_number="2001")
    assert {t: len(list(rows)) for t, rows in content.rows.items()} == {
        "learners": 3,
        "contacts": 3,
        "learner-contacts": 3,
        "school-enrolments": 3,
        "special-needs": 2,
        "entitlements": 3,
        "session-attendance": 40,
    }


def test_sample_pupil_is_read_field_by_field() -> None:
    content = parse_ctf(_fixture("ctf_sample.xml"))

    assert _rows(content, "learners")[0] == (
        f"line 23, Pupil 1 (UPN {AMARA})",
        {
            "source_id": AMARA,
            "upn": AMARA,
            "former_upn": "F825300618043",
            "legal_forename": "Amara",
            "middle_names": "Grace Ifeoma",
            "legal_surname": "Okafor-Smith",
            "preferred_forename": "Mara",
            "preferred_surname": "Okafor-Smith",
            "date_of_birth": "2019-03-14",
            "gender": "F",
            "ethnicity": "BNGN",
            "religion": None,
            "first_language": "ENG",
            "address_line1": "14 Acacia Avenue",
            "address_line2": "Moulsham",
            "town": "Chelmsford",
            "postcode": "CM2 9AB",
            "phone": "01245 123456",
            "email": "amara.family@example.org",
            "photo": None,
        },
    )


def test_sample_contacts_take_the_pupils_address_when_they_live_with_the_pupil() -> None:
    records = _by_id(parse_ctf(_fixture("ctf_sample.xml")))

    assert records["contacts"][f"{AMARA}:contact:1"] == {
        "source_id": f"{AMARA}:contact:1",
        "title": "Mrs",
        "forename": "Ngozi",
        "surname": "Okafor-Smith",
        "gender": "F",
        "address_line1": "14 Acacia Avenue",
        "address_line2": "Moulsham",
        "town": "Chelmsford",
        "postcode": "CM2 9AB",
        "email": "ngozi@example.org",
        "email_alternative": None,
        "phone_home": None,
        "phone_mobile": "07700 900123",
        "phone_work": "01245 987654",
    }
    assert records["contacts"][f"{AMARA}:contact:2"]["address_line1"] == "Flat 3, 22 Baddow Road"  # BS7666 parts
    assert records["learner-contacts"][f"{AMARA}:lc:1"] == {
        "source_id": f"{AMARA}:lc:1",
        "learner_source_id": AMARA,
        "contact_source_id": f"{AMARA}:contact:1",
        "relationship": "PAM",
        "parental_responsibility": "true",
        "priority": "1",
        "lives_with": "true",
    }
    second = records["learner-contacts"][f"{AMARA}:lc:2"]
    assert (second["parental_responsibility"], second["priority"], second["lives_with"]) == ("true", "2", "false")


def test_sample_sen_fsm_and_enrolment() -> None:
    records = _by_id(parse_ctf(_fixture("ctf_sample.xml")))

    assert records["special-needs"] == {
        f"{AMARA}:sen:2023-11-06": {
            "source_id": f"{AMARA}:sen:2023-11-06",
            "learner_source_id": AMARA,
            "provision": "K",
            "need_types": [],
            "start_date": "2023-11-06",
            "end_date": "2024-09-01",
        },
        f"{AMARA}:sen:2024-09-02": {
            "source_id": f"{AMARA}:sen:2024-09-02",
            "learner_source_id": AMARA,
            "provision": "E",
            "need_types": ["ASD", "SLCN"],  # by SENrank, not file order
            "start_date": "2024-09-02",
            "end_date": None,
        },
    }
    assert records["entitlements"][f"{AMARA}:fsm:2024-01-08"] == {
        "source_id": f"{AMARA}:fsm:2024-01-08",
        "learner_source_id": AMARA,
        "entitlement_type": "FSM",
        "start_date": "2024-01-08",
        "end_date": "2024-12-20",
    }
    assert records["school-enrolments"][f"{AMARA}:enrol:8812001:2023-09-06"] == {
        "source_id": f"{AMARA}:enrol:8812001:2023-09-06",
        "learner_source_id": AMARA,
        "entry_date": "2023-09-06",
        "leaving_date": None,
        "enrolment_status": "C",
        "year_group": "2",
    }


def test_only_the_source_schools_history_and_attendance_are_read() -> None:
    records = _by_id(parse_ctf(_fixture("ctf_sample.xml")))

    jakub_enrolments = [v for v in records["school-enrolments"].values() if v["learner_source_id"] == JAKUB]
    assert [v["source_id"] for v in jakub_enrolments] == [f"{JAKUB}:enrol:8812001:2025-09-15"]
    jakub_days = {str(v["date"]) for v in records["session-attendance"].values() if v["learner_source_id"] == JAKUB}
    assert sorted(jakub_days) == ["2025-09-15", "2025-09-16", "2025-09-17", "2025-09-18", "2025-09-19"]


def test_rows_carry_exactly_the_model_fields() -> None:
    content = parse_ctf(_fixture("ctf_sample.xml"))

    for record_type, rows in content.rows.items():
        for _, values in rows:
            assert list(values) == spec_for(record_type).names, record_type


def test_a_namespace_added_by_an_exporter_is_read_past() -> None:
    plain = _fixture("ctf_sample.xml")
    namespaced = plain.replace(b"<CTfile>", b'<CTfile xmlns="urn:example:ctf">', 1)

    assert _by_id(parse_ctf(namespaced)) == _by_id(parse_ctf(plain))


# --- attendance marks -----------------------------------------------------------------------------


def test_attendance_marks_run_am_then_pm_over_school_days_only() -> None:
    content = parse_ctf(_fixture("ctf_sample.xml"))
    amara = _sessions(content)

    assert sorted({day for day, _, _ in amara}) == [
        "2025-09-03",
        "2025-09-04",
        "2025-09-05",
        "2025-09-08",  # after the weekend of the 6th and 7th
        "2025-09-09",
        "2025-09-10",
        "2025-09-11",
        "2025-09-12",
        "2025-09-15",
        "2025-09-16",
        "2025-09-17",
        "2025-09-18",
        "2025-09-19",
        "2025-09-22",
        "2025-09-24",  # the 23rd is "--": no session
    ]
    assert amara[:2] == [("2025-09-03", "AM", "/"), ("2025-09-03", "PM", "\\")]
    assert [s for s in amara if s[0] in {"2025-09-15", "2025-09-16", "2025-09-24"}] == [
        ("2025-09-15", "AM", "I"),
        ("2025-09-15", "PM", "I"),
        ("2025-09-16", "AM", "L"),
        ("2025-09-16", "PM", "\\"),
        ("2025-09-24", "AM", "N"),
        ("2025-09-24", "PM", "\\"),
    ]


def test_attendance_source_ids_name_the_pupil_day_and_session() -> None:
    ref, values = _rows(parse_ctf(_fixture("ctf_sample.xml")), "session-attendance")[0]

    assert ref == f"line 153, Pupil 1 (UPN {AMARA}), AttendanceMarks 2025-09-03 AM"
    assert values == {
        "source_id": f"{AMARA}:2025-09-03:AM",
        "learner_source_id": AMARA,
        "date": "2025-09-03",
        "session": "AM",
        "mark": "/",
        "minutes_late": None,
        "comment": None,
    }


def test_marks_starting_on_a_friday_continue_on_monday() -> None:
    content = parse_ctf(_ctf(_marks_pupil("2025-09-05", "/\\ N")))

    assert _sessions(content) == [("2025-09-05", "AM", "/"), ("2025-09-05", "PM", "\\"), ("2025-09-08", "PM", "N")]


def test_marks_starting_on_a_weekend_begin_on_the_monday() -> None:
    content = parse_ctf(_ctf(_marks_pupil("2025-09-06", "-/")))

    assert _sessions(content) == [("2025-09-08", "PM", "/")]


def test_marks_with_a_start_that_is_not_a_date_are_reported() -> None:
    rejected = _rejection(_ctf(_marks_pupil("06/09/2025", "/\\")))

    assert [(e.record_type, e.field, e.source_id) for e in rejected.errors] == [
        ("session-attendance", "AttendanceStartDate", AMARA)
    ]


# --- what the parser refuses ---------------------------------------------------------------------


def test_billion_laughs_is_refused_for_its_doctype() -> None:
    rejected = _rejection(_fixture("billion_laughs.xml"))

    assert rejected.status == 422
    assert [(e.record_type, e.ref, e.field) for e in rejected.errors] == [("file", "document", "DOCTYPE")]
    assert "must not declare a DOCTYPE" in rejected.errors[0].reason


def test_external_entity_is_refused_and_nothing_of_it_is_read() -> None:
    rejected = _rejection(_fixture("xxe_passwd.xml"))

    assert [(e.record_type, e.ref, e.field) for e in rejected.errors] == [("file", "document", "DOCTYPE")]
    assert "root:" not in repr(rejected.errors)


@contextmanager
def _watched_pipe(directory: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A named pipe that notes whether anything opened it to read (and then feeds it, so nothing hangs)."""
    path = directory / "secret"
    os.mkfifo(path)
    opened, finished = threading.Event(), threading.Event()

    def feed() -> None:
        while not finished.is_set():
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                time.sleep(0.001)
                continue
            opened.set()
            os.write(descriptor, b"SECRET")
            os.close(descriptor)
            return

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield path, opened
    finally:
        finished.set()
        thread.join()


def test_the_watched_pipe_notices_a_parser_that_reads_entities(tmp_path: Path) -> None:
    with _watched_pipe(tmp_path) as (pipe, opened):
        document = f'<!DOCTYPE CTfile [<!ENTITY x SYSTEM "file://{pipe}">]><CTfile>&x;</CTfile>'.encode()
        unsafe = etree.fromstring(document, etree.XMLParser(resolve_entities=True))

    assert opened.is_set()
    assert unsafe.text == "SECRET"


@pytest.mark.parametrize("encoding", ["UTF-8", "Shift_JIS"])  # pyexpat cannot read Shift_JIS; lxml can
@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE CTfile [<!ENTITY x SYSTEM "file://{pipe}">]>',
        '<!DOCTYPE CTfile [<!ENTITY % x SYSTEM "file://{pipe}"> %x;]>',
        '<!DOCTYPE CTfile SYSTEM "file://{pipe}">',
    ],
    ids=["general-entity", "parameter-entity", "external-dtd"],
)
def test_external_entities_are_never_opened(tmp_path: Path, encoding: str, doctype: str) -> None:
    with _watched_pipe(tmp_path) as (pipe, opened):
        prolog = f'<?xml version="1.0" encoding="{encoding}"?>' + doctype.format(pipe=pipe)
        rejected = _rejection(_ctf(f"<Pupil><UPN>{AMARA}</UPN><Surname>&x;</Surname></Pupil>", prolog=prolog))

    assert not opened.is_set()
    assert [(e.ref, e.field) for e in rejected.errors] == [("document", "DOCTYPE")]


def test_malformed_xml_names_the_line() -> None:
    rejected = _rejection(_fixture("malformed.xml"))

    assert rejected.status == 422
    assert [(e.record_type, e.ref, e.field) for e in rejected.errors] == [("file", "line 12", "XML")]
    assert "Surname" in rejected.errors[0].reason


def test_a_document_that_is_not_a_ctf_is_refused() -> None:
    rejected = _rejection(b'<?xml version="1.0"?>\n<Message/>')

    assert rejected.errors == [RecordError("file", "line 2", "CTfile", "the document is a Message, not a CTfile")]


def test_the_header_must_name_the_source_school() -> None:
    rejected = _rejection(b"<CTfile><Header><SourceSchool><LEA>881</LEA></SourceSchool></Header></CTfile>")

    assert [(e.record_type, e.field) for e in rejected.errors] == [("file", "SourceSchool")]


def test_a_pupil_without_upn_is_reported_by_position_and_line() -> None:
    rejected = _rejection(_fixture("missing_upn.xml"))

    assert rejected.errors == [
        RecordError(
            record_type="learners",
            ref="line 17, Pupil 2",
            field="UPN",
            reason="the pupil has no UPN; a CTF pupil's records are identified by it",
        )
    ]


def test_a_upn_on_two_pupils_is_reported() -> None:
    rejected = _rejection(_ctf(f"<Pupil><UPN>{AMARA}</UPN></Pupil><Pupil><UPN>{AMARA}</UPN></Pupil>"))

    assert [(e.ref.split(", ", 1)[1], e.field, e.source_id) for e in rejected.errors] == [
        (f"Pupil 2 (UPN {AMARA})", "UPN", AMARA)
    ]


def test_values_are_not_validated_by_the_parser() -> None:
    pupil = f"<Pupil><UPN>{AMARA}</UPN><DOB>14/03/2019</DOB><Sex>Q</Sex></Pupil>"

    (_, values), *_ = _rows(parse_ctf(_ctf(pupil)), "learners")

    assert (values["date_of_birth"], values["gender"], values["legal_surname"]) == ("14/03/2019", "Q", None)


def test_a_file_over_the_limit_is_refused_with_413_before_it_is_parsed() -> None:
    data = _fixture("ctf_sample.xml")

    rejected = _rejection(data, max_bytes=len(data) - 1)

    assert rejected.status == 413
    assert [(e.record_type, e.ref, e.field) for e in rejected.errors] == [("file", "document", "size")]
    assert len(list(parse_ctf(data, max_bytes=len(data)).rows["learners"])) == 3


# --- writing -------------------------------------------------------------------------------------


def _learner(upn: str, **fields: Value) -> dict[str, Value]:
    values: dict[str, Value] = {
        "source_id": upn,
        "upn": upn,
        "former_upn": None,
        "legal_forename": None,
        "middle_names": None,
        "legal_surname": None,
        "preferred_forename": None,
        "preferred_surname": None,
        "date_of_birth": None,
        "gender": None,
        "ethnicity": None,
        "religion": None,
        "first_language": None,
        "address_line1": None,
        "address_line2": None,
        "town": None,
        "postcode": None,
        "phone": None,
        "email": None,
        "photo": None,
    }
    return values | fields


def _contact(upn: str, order: int, **fields: Value) -> dict[str, Value]:
    names = ["title", "forename", "surname", "gender", "address_line1", "address_line2", "town", "postcode"]
    values: dict[str, Value] = {"source_id": f"{upn}:contact:{order}", **dict.fromkeys(names)}
    values |= dict.fromkeys(["email", "email_alternative", "phone_home", "phone_mobile", "phone_work"])
    return values | fields


def _link(upn: str, order: int, relationship: str, responsible: str, lives_with: str) -> dict[str, Value]:
    return {
        "source_id": f"{upn}:lc:{order}",
        "learner_source_id": upn,
        "contact_source_id": f"{upn}:contact:{order}",
        "relationship": relationship,
        "parental_responsibility": responsible,
        "priority": str(order),
        "lives_with": lives_with,
    }


def _enrolment(upn: str, entry: str, leaving: str | None, status: str, year: str | None) -> dict[str, Value]:
    return {
        "source_id": f"{upn}:enrol:8812001:{entry}",
        "learner_source_id": upn,
        "entry_date": entry,
        "leaving_date": leaving,
        "enrolment_status": status,
        "year_group": year,
    }


def _sen(upn: str, start: str, end: str | None, provision: str, needs: list[str]) -> dict[str, Value]:
    return {
        "source_id": f"{upn}:sen:{start}",
        "learner_source_id": upn,
        "provision": provision,
        "need_types": needs,
        "start_date": start,
        "end_date": end,
    }


def _fsm(upn: str, start: str, end: str | None) -> dict[str, Value]:
    return {
        "source_id": f"{upn}:fsm:{start}",
        "learner_source_id": upn,
        "entitlement_type": "FSM",
        "start_date": start,
        "end_date": end,
    }


def _session(upn: str, day: date, session: str, mark: str) -> dict[str, Value]:
    return {
        "source_id": f"{upn}:{day.isoformat()}:{session}",
        "learner_source_id": upn,
        "date": day.isoformat(),
        "session": session,
        "mark": mark,
        "minutes_late": None,
        "comment": None,
    }


def _fortnight(upn: str, first_monday: date, marks: str) -> list[dict[str, Value]]:
    """Sessions for ten school days from `first_monday`, two marks a day; "-" is no session."""
    days = [first_monday + timedelta(days=n) for n in range(14) if (first_monday + timedelta(days=n)).weekday() < 5]
    sessions = [(day, session) for day in days for session in ("AM", "PM")]
    return [
        _session(upn, day, session, mark) for (day, session), mark in zip(sessions, marks, strict=True) if mark != "-"
    ]


def _sample_records() -> dict[str, list[dict[str, Value]]]:
    home = {
        "address_line1": "14 Acacia Avenue",
        "address_line2": "Moulsham",
        "town": "Chelmsford",
        "postcode": "CM2 9AB",
    }
    return {
        "learners": [
            _learner(
                AMARA,
                former_upn="F825300618043",
                legal_forename="Amara",
                middle_names="Grace Ifeoma",
                legal_surname="Okafor-Smith",
                preferred_forename="Mara",
                preferred_surname="Okafor-Smith",
                date_of_birth="2019-03-14",
                gender="F",
                ethnicity="BNGN",
                first_language="ENG",
                phone="01245 123456",
                email="amara.family@example.org",
                **home,
            ),
            _learner(
                JAKUB,
                legal_forename="Jakub",
                legal_surname="Nowak",
                date_of_birth="2018-11-30",
                gender="M",
                ethnicity="WOTH",
                first_language="POL",
                address_line1="7 Mill Lane",
                town="Chelmsford",
                postcode="CM2 8QR",
            ),
            _learner(SAFIYA, legal_forename="Safiya", legal_surname="Begum", date_of_birth="2020-06-01", gender="F"),
        ],
        "contacts": [
            _contact(
                AMARA,
                1,
                title="Mrs",
                forename="Ngozi",
                surname="Okafor-Smith",
                gender="F",
                email="ngozi@example.org",
                phone_mobile="07700 900123",
                phone_work="01245 987654",
                **home,
            ),
            _contact(
                AMARA,
                2,
                title="Mr",
                forename="Daniel",
                surname="Smith",
                gender="M",
                address_line1="Flat 3, 22 Baddow Road",
                town="Chelmsford",
                postcode="CM2 0DG",
                phone_home="01245 300300",
                phone_mobile="07700 900456",
            ),
            _contact(JAKUB, 1, forename="Katarzyna", surname="Nowak", phone_home="01245 555010"),
        ],
        "learner-contacts": [
            _link(AMARA, 1, "PAM", "true", "true"),
            _link(AMARA, 2, "PAF", "true", "false"),
            _link(JAKUB, 1, "PAM", "false", "false"),
        ],
        "school-enrolments": [
            _enrolment(AMARA, "2023-09-06", None, "C", "2"),
            _enrolment(JAKUB, "2022-09-05", "2024-07-19", "M", None),
            _enrolment(JAKUB, "2025-09-15", None, "M", "3"),
            _enrolment(SAFIYA, "2024-09-04", None, "C", "R"),
        ],
        "special-needs": [
            _sen(AMARA, "2023-11-06", "2024-09-01", "K", []),
            _sen(AMARA, "2024-09-02", None, "E", ["ASD", "SLCN", "SEMH"]),
            _sen(SAFIYA, "2025-01-13", None, "K", ["SPLD"]),
        ],
        "entitlements": [
            _fsm(AMARA, "2024-01-08", "2024-12-20"),
            _fsm(AMARA, "2025-02-03", None),
            _fsm(JAKUB, "2022-09-05", None),
        ],
        "session-attendance": [
            *_fortnight(AMARA, date(2025, 9, 8), "/\\/\\/-/\\/\\IIL\\/\\--N\\"),
            _session(JAKUB, date(2025, 7, 17), "AM", "/"),  # last academic year: a YearData of its own
            *_fortnight(JAKUB, date(2025, 9, 15), "/\\/\\/\\/\\/\\/\\/\\/\\/\\M\\"),
            *_fortnight(SAFIYA, date(2025, 9, 8), "/\\/\\CC/\\/\\/\\/\\/\\/\\/\\"),
        ],
    }


def test_written_ctf_reads_back_to_the_same_records() -> None:
    records = _sample_records()

    content = parse_ctf(write_ctf(source=SOURCE, records=records))

    assert content.source_school == SourceSchool(urn=114876, la_code="881", establishment_number="2001")
    assert _by_id(content) == {t: {str(v["source_id"]): v for v in rows} for t, rows in records.items()}


def test_written_ctf_keeps_learner_order_and_puts_each_session_in_its_academic_year() -> None:
    document = etree.fromstring(write_ctf(source=SOURCE, records=_sample_records()))

    assert document.xpath("CTFpupilData/Pupil/UPN/text()") == [AMARA, JAKUB, SAFIYA]
    years = document.xpath("CTFpupilData/Pupil[UPN='A881200119027']/Attendance/YearData")
    assert [(y.findtext("Year"), y.findtext("AttendSessions/AttendanceStartDate")) for y in years] == [
        ("2024", "2025-07-17"),
        ("2025", "2025-09-15"),
    ]
    amara_marks = document.findtext(
        "CTFpupilData/Pupil[UPN='V881200119014']/Attendance/YearData/AttendSessions/AttendanceMarks"
    )
    assert amara_marks == "/\\/\\/-/\\/\\IIL\\/\\--N\\"


def test_written_header_is_a_partial_ctf_to_a_destination_outside_the_maintained_sector() -> None:
    generated_at = datetime(2025, 9, 19, 15, 42, 5, tzinfo=UTC)

    header = etree.fromstring(write_ctf(source=SOURCE, records={}, generated_at=generated_at)).find("Header")

    assert header is not None
    assert [(e.tag, e.text) for e in header.iter() if len(e) == 0] == [
        ("DocumentName", "Common Transfer File"),
        ("CTFversion", "25.0"),
        ("DateTime", "2025-09-19T16:42:05"),  # London time
        ("DocumentQualifier", "partial"),
        ("SupplierID", "Steward"),
        ("LEA", "881"),
        ("Estab", "2001"),
        ("URN", "114876"),
        ("SchoolName", "Greenfield Primary School"),
        ("AcademicYear", "2025"),
        ("LEA", "XXX"),
        ("Estab", "XXXX"),
    ]


def test_python_dates_booleans_and_numbers_are_written_as_ctf_text() -> None:
    link = {
        "source_id": f"{JAKUB}:lc:1",
        "learner_source_id": JAKUB,
        "contact_source_id": f"{JAKUB}:contact:1",
        "relationship": "PAM",
        "parental_responsibility": True,
        "priority": 1,
        "lives_with": False,
    }
    records: dict[str, list[dict[str, Any]]] = {
        "learners": [_learner(JAKUB, legal_surname="Nowak") | {"date_of_birth": date(2018, 11, 30)}],
        "contacts": [_contact(JAKUB, 1, forename="Katarzyna", surname="Nowak")],
        "learner-contacts": [link],
        "entitlements": [
            {"source_id": "F1", "learner_source_id": JAKUB, "entitlement_type": "FSM", "start_date": date(2022, 9, 5)}
        ],
    }

    read = _by_id(parse_ctf(write_ctf(source=SOURCE, records=records)))

    assert read["learners"][JAKUB]["date_of_birth"] == "2018-11-30"
    assert read["learner-contacts"][f"{JAKUB}:lc:1"] == _link(JAKUB, 1, "PAM", "true", "false")
    assert list(read["entitlements"]) == [f"{JAKUB}:fsm:2022-09-05"]  # ids are the file's own, as on any CTF


def test_record_types_the_file_gives_nothing_of_are_left_out() -> None:
    content = parse_ctf(
        _ctf(f"<Pupil><UPN>{AMARA}</UPN></Pupil>" + _marks_pupil("2025-09-08", "--").replace(AMARA, JAKUB))
    )

    assert content.record_types() == ["learners"]


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"learners": [_learner(AMARA) | {"upn": None}]}, "has no UPN"),
        (
            {"learners": [_learner(AMARA)], "session-attendance": [_session(AMARA, date(2025, 9, 13), "AM", "/")]},
            "cannot be a CTF mark",
        ),
        (
            {"learners": [_learner(AMARA)], "session-attendance": [_session(AMARA, date(2025, 9, 12), "P3", "/")]},
            "cannot be a CTF mark",
        ),
        ({"learners": [], "entitlements": [_fsm(AMARA, "2025-02-03", None)]}, "not given"),
        ({"learners": [_learner(AMARA)], "learner-contacts": [_link(AMARA, 1, "PAM", "true", "true")]}, "not given"),
    ],
    ids=["no-upn", "weekend-session", "not-am-or-pm", "unknown-learner", "unknown-contact"],
)
def test_what_a_ctf_cannot_express_is_refused(records: dict[str, list[dict[str, Value]]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_ctf(source=SOURCE, records=records)
