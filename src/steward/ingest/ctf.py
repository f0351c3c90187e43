"""DfE Common Transfer Files (CTF XML) read into record rows, and written back from them.

A CTF carries no MIS ids, so every source id is derived from what the file does carry and
stays the same when the same pupil comes back in the next file: the learner is its UPN, and
the records hanging off it add what identifies them within the pupil (a contact's order, an
SEN or FSM start date, a session's date and AM/PM).

The parser reports only what it alone can see: a document it will not read (a DTD, broken
XML, too big) and a pupil it cannot give ids to (no UPN, a start date missing). Values are
handed on as text; codes, dates and lengths are checked by the pipeline like every format's.
Every row has all of its model's fields: those a CTF never carries (religion, photo, a
contact's second email, minutes late) are None, like those this file leaves out.

Only the source school's own history becomes records: Steward's enrolments and attendance
belong to the school that sent the file, so earlier schools in `SchoolHistory` and their
attendance `YearData` are read past.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.parsers import expat
from zoneinfo import ZoneInfo

from lxml import etree

from steward.ingest.records import BatchContent, BatchRejected, RecordError, Row, SourceSchool, Value

__all__ = ["parse_ctf", "session_mark_problem", "write_ctf"]

# The record types a CTF carries, in the order they are returned and written.
RECORD_TYPES = (
    "learners",
    "contacts",
    "learner-contacts",
    "school-enrolments",
    "special-needs",
    "entitlements",
    "session-attendance",
)

CTF_VERSION = "25.0"
SUPPLIER_ID = "Steward"
# DfE convention for a destination outside the maintained sector. "MMM"/"MMMM" would send
# the pupils to the lost pupils database if the file were ever uploaded to School to School.
DEST_LEA = "XXX"
DEST_ESTAB = "XXXX"
# One AttendanceMarks character per session, AM then PM, Monday to Friday; these mean that
# there was no session for the pupil, so no record is made.
NO_SESSION = frozenset("- ")
SESSIONS = ("AM", "PM")
# Telephone types (CBDS) that have a column of their own on a contact.
CONTACT_PHONE_FIELDS = {"H": "phone_home", "M": "phone_mobile", "W": "phone_work"}
FIRST_LANGUAGE = "F"
DEFAULT_ENROLMENT_STATUS = "C"  # single registration, the CBDS default
ADDRESS_FIELDS = ("address_line1", "address_line2", "town", "postcode")
_LONDON = ZoneInfo("Europe/London")


# --- reading ---------------------------------------------------------------------------------


def parse_ctf(data: bytes, *, max_bytes: int | None = None) -> BatchContent:
    """Read a CTF into rows by record type; raise `BatchRejected` listing every problem found."""
    if max_bytes is not None and len(data) > max_bytes:
        reason = f"the file is {len(data)} bytes; the most accepted is {max_bytes}"
        raise BatchRejected([_file_error("document", "size", reason)], status=413)
    root = _parse_xml(data)
    source = _source_school(root)
    errors: list[RecordError] = []
    rows: dict[str, list[Row]] = {record_type: [] for record_type in RECORD_TYPES[:-1]}
    marks: list[_Marks] = []
    seen: dict[str, int] = {}
    for position, element in enumerate(root.iterfind("CTFpupilData/Pupil"), start=1):
        pupil = _pupil(element, position, seen, errors)
        if pupil is not None:
            _read_pupil(pupil, source, rows, errors)
            marks += _attendance_marks(pupil, source, errors)
    if errors:
        raise BatchRejected(errors)
    # A record type is in the batch only if the file gives records of it, so a CTF without
    # (say) attendance leaves the school's attendance alone rather than emptying it.
    found: dict[str, Iterable[Row]] = {record_type: given for record_type, given in rows.items() if given}
    if any(set(strip.marks) - NO_SESSION for strip in marks):
        found["session-attendance"] = _session_rows(marks)
    return BatchContent(source_school=source, rows=found)


def _file_error(ref: str, field: str, reason: str) -> RecordError:
    return RecordError(record_type="file", ref=ref, field=field, reason=reason)


def _parse_xml(data: bytes) -> etree._Element:
    """Parse with entities, DTDs and the network all off, after refusing any DTD outright.

    defusedxml's rule: a CTF has no use for a DTD, and a DTD is how entity bombs and external
    entities (XXE) get in, so a document that declares one is refused before it is parsed.
    """
    _refuse_doctype(data)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise BatchRejected([_file_error(f"line {error.lineno}", "XML", error.msg or str(error))]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise BatchRejected([_doctype_error()])  # an encoding expat could not read hid it
    _drop_namespace(root)
    if root.tag != "CTfile":
        reason = f"the document is a {etree.QName(root).localname}, not a CTfile"
        raise BatchRejected([_file_error(f"line {root.sourceline}", "CTfile", reason)])
    return root


class _PrologEnd(Exception):
    """Raised from expat's handlers to stop reading once the prolog has been seen."""


def _refuse_doctype(data: bytes) -> None:
    """Read only the prolog, with expat, and reject a DOCTYPE before anything in it is read.

    Expat stops at the DOCTYPE's first byte, so neither the internal subset nor any external
    entity is ever looked at; a document it cannot read is left for lxml to report.
    """
    doctype_found = False

    def on_doctype(*_: object) -> None:
        nonlocal doctype_found
        doctype_found = True
        raise _PrologEnd

    def on_root(*_: object) -> None:
        raise _PrologEnd

    reader = expat.ParserCreate()
    reader.StartDoctypeDeclHandler = on_doctype
    reader.StartElementHandler = on_root
    # ValueError: pyexpat cannot read multi-byte encodings such as Shift_JIS; lxml can.
    with suppress(_PrologEnd, expat.ExpatError, ValueError, LookupError):
        reader.Parse(data, True)
    if doctype_found:
        raise BatchRejected([_doctype_error()])


def _doctype_error() -> RecordError:
    reason = "a CTF must not declare a DOCTYPE: DTDs can expand entities or read other files, so none is accepted"
    return _file_error("document", "DOCTYPE", reason)


def _drop_namespace(root: etree._Element) -> None:
    """CTFs have no namespace, but some exporters add one; read their elements all the same."""
    if isinstance(root.tag, str) and root.tag.startswith("{"):
        for element in root.iter():
            if isinstance(element.tag, str):
                element.tag = etree.QName(element).localname


def _source_school(root: etree._Element) -> SourceSchool:
    """The school the header says sent the file; the pipeline checks it is the client's school."""
    school = root.find("Header/SourceSchool")
    la_code = _text(school, "LEA")
    establishment = _text(school, "Estab")
    line = (school if school is not None else root).sourceline
    if la_code is None or establishment is None:
        reason = "the header must name the source school (SourceSchool LEA and Estab)"
        raise BatchRejected([_file_error(f"line {line}", "SourceSchool", reason)])
    urn = _text(school, "URN")
    if urn is not None and not urn.isdigit():
        raise BatchRejected([_file_error(f"line {line}", "URN", f"the source school's URN {urn!r} is not a number")])
    return SourceSchool(urn=int(urn) if urn else None, la_code=la_code, establishment_number=establishment)


def _text(element: etree._Element | None, path: str) -> str | None:
    """The stripped text at `path`, or None when the element is missing or empty."""
    if element is None:
        return None
    text = element.findtext(path)
    if text is None:
        return None
    return text.strip() or None


def _first_text(element: etree._Element | None, *paths: str) -> str | None:
    return next((text for path in paths if (text := _text(element, path)) is not None), None)


def _boolean(text: str | None) -> str | None:
    """xs:boolean as the pipeline's "true"/"false"; anything else is passed on for it to reject."""
    if text is None:
        return None
    return {"true": "true", "1": "true", "false": "false", "0": "false"}.get(text.lower(), text)


@dataclass(frozen=True)
class _Pupil:
    element: etree._Element
    position: int
    upn: str

    def ref(self, element: etree._Element | None = None, part: str = "") -> str:
        line = (element if element is not None else self.element).sourceline
        return f"line {line}, Pupil {self.position} (UPN {self.upn})" + (f", {part}" if part else "")

    def error(self, record_type: str, element: etree._Element, part: str, field: str, reason: str) -> RecordError:
        return RecordError(record_type, self.ref(element, part), field, reason, source_id=self.upn)


def _pupil(element: etree._Element, position: int, seen: dict[str, int], errors: list[RecordError]) -> _Pupil | None:
    """The pupil with its UPN, or None (and an error) when it has none or shares another's."""
    upn = _text(element, "UPN")
    ref = f"line {element.sourceline}, Pupil {position}"
    if upn is None:
        reason = "the pupil has no UPN; a CTF pupil's records are identified by it"
        errors.append(RecordError("learners", ref, "UPN", reason))
        return None
    if upn in seen:
        reason = f"UPN {upn} is also on Pupil {seen[upn]}; a CTF carries each pupil once"
        errors.append(RecordError("learners", f"{ref} (UPN {upn})", "UPN", reason, source_id=upn))
        return None
    seen[upn] = position
    return _Pupil(element, position, upn)


def _read_pupil(pupil: _Pupil, school: SourceSchool, rows: dict[str, list[Row]], errors: list[RecordError]) -> None:
    learner = _learner(pupil)
    rows["learners"].append(learner)
    address = {name: learner[1][name] for name in ADDRESS_FIELDS}
    for contact, link in _contacts(pupil, address):
        rows["contacts"].append(contact)
        rows["learner-contacts"].append(link)
    rows["school-enrolments"] += _enrolments(pupil, school, errors)
    rows["special-needs"] += _special_needs(pupil, errors)
    rows["entitlements"] += _entitlements(pupil, errors)


def _learner(pupil: _Pupil) -> Row:
    element = pupil.element
    details = element.find("BasicDetails")
    phones = _phones(element.find("Phones"))
    values: dict[str, Value] = {
        "source_id": pupil.upn,
        "upn": pupil.upn,
        "former_upn": _first_text(element, "BasicDetails/FormerUPN", "FormerUPN"),
        "legal_forename": _text(element, "Forename"),
        "middle_names": _first_text(element, "BasicDetails/MiddleNames", "MiddleNames"),
        "legal_surname": _text(element, "Surname"),
        "preferred_forename": _first_text(element, "BasicDetails/PreferredForename", "PreferredForename"),
        "preferred_surname": _first_text(element, "BasicDetails/PreferredSurname", "PreferredSurname"),
        "date_of_birth": _text(element, "DOB"),
        "gender": _first_text(element, "Sex", "Gender"),  # <Sex> since CTF 19, <Gender> before
        "ethnicity": _text(details, "Ethnicity"),
        "religion": None,
        "first_language": _first_language(details),
        **_address(element.find("Address")),
        "phone": phones[0][1] if phones else None,
        "email": _text(element, "Email"),
        "photo": None,
    }
    return pupil.ref(), values


def _first_language(details: etree._Element | None) -> str | None:
    if details is None:
        return None
    for language in details.iterfind("Languages/Type"):
        if _text(language, "LanguageType") == FIRST_LANGUAGE:
            return _text(language, "Language")
    return None


def _address(address: etree._Element | None) -> dict[str, Value]:
    """A CTF address (BS7666 parts or up to five lines) as two lines, a town and a postcode.

    Free-form lines end with the town, as UK addresses do: the first line is line 1, the last
    is the town and any between are joined into line 2.
    """
    values: dict[str, Value] = dict.fromkeys(ADDRESS_FIELDS)
    if address is None:
        return values
    values["postcode"] = _text(address, "PostCode")
    bs7666 = address.find("BS7666Address")
    if bs7666 is not None:
        street = " ".join(part for part in (_text(bs7666, "PAON"), _text(bs7666, "Street")) if part)
        values["address_line1"] = ", ".join(part for part in (_text(bs7666, "SAON"), street) if part) or None
        values["address_line2"] = _text(bs7666, "Locality")
        values["town"] = _first_text(bs7666, "Town", "PostTown")
        return values
    lines = [line for n in range(1, 6) if (line := _text(address, f"AddressLines/AddressLine{n}"))]
    if lines:
        values["address_line1"] = lines[0]
    if len(lines) > 1:
        values["address_line2"] = ", ".join(lines[1:-1]) or None
        values["town"] = lines[-1]
    return values


def _phones(phones: etree._Element | None) -> list[tuple[str | None, str]]:
    """(telephone type, number) in file order, skipping entries without a number."""
    if phones is None:
        return []
    found = ((_text(phone, "TelephoneType"), _text(phone, "PhoneNo")) for phone in phones.iterfind("Phone"))
    return [(kind, number) for kind, number in found if number]


def _contacts(pupil: _Pupil, pupil_address: dict[str, Value]) -> Iterator[tuple[Row, Row]]:
    """Each contact with its link to the pupil; ids use the contact's order within the pupil.

    A contact whose address is "as pupil" lives with the pupil and takes the pupil's address.
    """
    for position, contact in enumerate(pupil.element.iterfind("Contacts/Contact"), start=1):
        order = _text(contact, "Order") or str(position)
        contact_id = f"{pupil.upn}:contact:{order}"
        lives_with = _boolean(_first_text(contact, "Address/AddressAsPupil", "AddressAsPupil")) == "true"
        phones: dict[str, Value] = dict.fromkeys(CONTACT_PHONE_FIELDS.values())
        for kind, number in _phones(contact.find("Phones")):
            field = CONTACT_PHONE_FIELDS.get(kind or "")
            if field and phones[field] is None:
                phones[field] = number
        values: dict[str, Value] = {
            "source_id": contact_id,
            "title": _text(contact, "Title"),
            "forename": _text(contact, "Forename"),
            "surname": _text(contact, "Surname"),
            "gender": _first_text(contact, "Gender", "Sex"),
            **(dict(pupil_address) if lives_with else _address(contact.find("Address"))),
            "email": _text(contact, "Email"),
            "email_alternative": None,
            **phones,
        }
        link: dict[str, Value] = {
            "source_id": f"{pupil.upn}:lc:{order}",
            "learner_source_id": pupil.upn,
            "contact_source_id": contact_id,
            "relationship": _text(contact, "Relationship"),
            "parental_responsibility": _boolean(_text(contact, "Responsibility")),
            "priority": order,
            "lives_with": "true" if lives_with else "false",
        }
        ref = pupil.ref(contact, f"Contact {order}")
        yield (ref, values), (ref, link)


def _current(items: list[Any], end: Callable[[Any], Any], start: Callable[[Any], Any]) -> Any | None:
    """The open item (no end) that started last, else the one that started last.

    Used both ways round, so that what the writer puts on the current enrolment or SEN entry
    (year group, need types) is read back onto the same one.
    """
    if not items:
        return None
    open_items = [item for item in items if not end(item)] or items
    return max(open_items, key=lambda item: start(item) or "")


def _enrolments(pupil: _Pupil, school: SourceSchool, errors: list[RecordError]) -> list[Row]:
    """The pupil's spells at the source school; the year group belongs to the current one."""
    element = pupil.element
    ours = [
        entry
        for entry in element.iterfind("SchoolHistory/School")
        if (_text(entry, "LEA"), _text(entry, "Estab")) == (school.la_code, school.establishment_number)
    ]
    status = _text(element, "BasicDetails/EnrolStatus") or DEFAULT_ENROLMENT_STATUS
    current = _current(ours, lambda e: _text(e, "LeavingDate"), lambda e: _text(e, "EntryDate"))
    rows: list[Row] = []
    for entry in ours:
        entry_date = _text(entry, "EntryDate")
        if entry_date is None:
            reason = "the source school's history entry has no EntryDate, which identifies the enrolment"
            errors.append(pupil.error("school-enrolments", entry, "School", "EntryDate", reason))
            continue
        values: dict[str, Value] = {
            "source_id": f"{pupil.upn}:enrol:{school.la_code}{school.establishment_number}:{entry_date}",
            "learner_source_id": pupil.upn,
            "entry_date": entry_date,
            "leaving_date": _text(entry, "LeavingDate"),
            "enrolment_status": status,
            "year_group": _text(element, "BasicDetails/NCyearActual") if entry is current else None,
        }
        rows.append((pupil.ref(entry, f"School {entry_date}"), values))
    return rows


def _special_needs(pupil: _Pupil, errors: list[RecordError]) -> list[Row]:
    """One record per SEN entry; the history's need types belong to the current entry."""
    history = pupil.element.find("SENhistory")
    if history is None:
        return []
    entries = list(history.iterfind("SEN"))
    current = _current(entries, lambda e: _text(e, "EndDate"), lambda e: _text(e, "StartDate"))
    rows: list[Row] = []
    for entry in entries:
        start = _text(entry, "StartDate")
        if start is None:
            reason = "the SEN entry has no StartDate, which identifies it"
            errors.append(pupil.error("special-needs", entry, "SEN", "StartDate", reason))
            continue
        needs = entry.find("SENneeds")  # some exporters nest the needs in the entry
        if needs is None and entry is current:
            needs = history.find("SENneeds")
        values: dict[str, Value] = {
            "source_id": f"{pupil.upn}:sen:{start}",
            "learner_source_id": pupil.upn,
            "provision": _text(entry, "SENprovision"),
            "need_types": _need_types(needs),
            "start_date": start,
            "end_date": _text(entry, "EndDate"),
        }
        rows.append((pupil.ref(entry, f"SEN {start}"), values))
    return rows


def _need_types(needs: etree._Element | None) -> list[str]:
    """SEN need types by rank (1 = primary); an entry with a rank that is not a number goes last."""
    if needs is None:
        return []
    ranked = [(_text(need, "SENrank"), _text(need, "SENtype")) for need in needs.iterfind("SENneed")]
    ordered = sorted(ranked, key=lambda pair: int(pair[0]) if pair[0] and pair[0].isdigit() else 999)
    return [need_type for _, need_type in ordered if need_type]


def _entitlements(pupil: _Pupil, errors: list[RecordError]) -> list[Row]:
    rows: list[Row] = []
    for instance in pupil.element.iterfind("FSMhistory/FSMinstance"):
        start = _text(instance, "FSMstartDate")
        if start is None:
            reason = "the FSM instance has no FSMstartDate, which identifies it"
            errors.append(pupil.error("entitlements", instance, "FSMinstance", "FSMstartDate", reason))
            continue
        values: dict[str, Value] = {
            "source_id": f"{pupil.upn}:fsm:{start}",
            "learner_source_id": pupil.upn,
            "entitlement_type": "FSM",
            "start_date": start,
            "end_date": _text(instance, "FSMendDate"),
        }
        rows.append((pupil.ref(instance, f"FSM {start}"), values))
    return rows


@dataclass(frozen=True)
class _Marks:
    """One YearData's AttendanceMarks, checked; expanded into sessions only as they are read."""

    pupil: _Pupil
    year: etree._Element
    first_day: date
    marks: str


def _attendance_marks(pupil: _Pupil, school: SourceSchool, errors: list[RecordError]) -> list[_Marks]:
    """The source school's AttendanceMarks strings, with the date each starts on."""
    found: list[_Marks] = []
    for year in pupil.element.iterfind("Attendance/YearData"):
        lea, estab = _text(year, "LEA"), _text(year, "Estab")
        if (lea or estab) and (lea, estab) != (school.la_code, school.establishment_number):
            continue  # attendance at an earlier school
        marks = _marks_text(year)
        if not marks.strip():
            continue
        start = _first_text(year, "AttendSessions/AttendanceStartDate", "AttendanceStartDate")
        try:
            first_day = date.fromisoformat(start or "")
        except ValueError:
            reason = f"the attendance marks start on {start!r}, which is not a date (YYYY-MM-DD)"
            errors.append(pupil.error("session-attendance", year, "YearData", "AttendanceStartDate", reason))
            continue
        found.append(_Marks(pupil, year, first_day, marks))
    return found


def _marks_text(year: etree._Element) -> str:
    """The marks as written, but for line breaks: a leading space is a session of its own."""
    text = year.findtext("AttendSessions/AttendanceMarks") or year.findtext("AttendanceMarks") or ""
    return text.strip("\r\n\t")


def _session_rows(strips: list[_Marks]) -> Iterator[Row]:
    """A row per session, made as the pipeline reads them: a school's year of marks is a
    few hundred thousand sessions, which need not all be held at once."""
    for strip in strips:
        upn = strip.pupil.upn
        for day, session, mark in _sessions(strip.first_day, strip.marks):
            values: dict[str, Value] = {
                "source_id": f"{upn}:{day.isoformat()}:{session}",
                "learner_source_id": upn,
                "date": day.isoformat(),
                "session": session,
                "mark": mark,
                "minutes_late": None,
                "comment": None,
            }
            yield strip.pupil.ref(strip.year, f"AttendanceMarks {day.isoformat()} {session}"), values


def _school_days(start: date) -> Iterator[date]:
    """Monday to Friday from `start` on (from the Monday after, if `start` is a weekend)."""
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def _sessions(start: date, marks: str) -> Iterator[tuple[date, str, str]]:
    """(date, "AM"/"PM", mark) for each character that records a session."""
    days = _school_days(start)
    for index in range(0, len(marks), 2):
        day = next(days)
        for session, mark in zip(SESSIONS, marks[index : index + 2], strict=False):
            if mark not in NO_SESSION:
                yield day, session, mark


# --- writing ---------------------------------------------------------------------------------


def write_ctf(
    *,
    source: Mapping[str, str],
    records: Mapping[str, Iterable[Mapping[str, Any]]],
    generated_at: datetime | None = None,
) -> bytes:
    """A partial CTF from record dicts shaped as `parse_ctf` returns them (dates, booleans as
    Python values or text), so that `parse_ctf` reads back the same values.

    `source` names the sending school with the `Organisation` field names: `la_code`,
    `establishment_number`, `urn`, `name` (and optionally `academic_year`). Records the CTF
    has no place for (entitlements other than FSM) are left out; data it cannot express
    (a learner without a UPN, a session that is not AM or PM or falls on a weekend, a mark
    longer than one character, a reference to a record not given) raises `ValueError`.
    """
    moment = generated_at or datetime.now(tz=UTC)
    linked = _Linked.index(records)
    root = etree.Element("CTfile")
    root.append(_header(source, moment))
    pupils = etree.SubElement(root, "CTFpupilData")
    school = _WriterSchool(
        la_code=source["la_code"], establishment=source["establishment_number"], name=source.get("name", "")
    )
    for learner in linked.learners:
        pupils.append(_pupil_element(learner, linked, school))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@dataclass(frozen=True)
class _WriterSchool:
    la_code: str
    establishment: str
    name: str


@dataclass
class _Linked:
    """The records to write, grouped by the learner they belong to."""

    learners: list[Mapping[str, Any]]
    contacts: dict[str, Mapping[str, Any]]
    by_learner: dict[str, dict[str, list[Mapping[str, Any]]]]

    @classmethod
    def index(cls, records: Mapping[str, Iterable[Mapping[str, Any]]]) -> _Linked:
        learners = list(records.get("learners", ()))
        known = {str(learner["source_id"]) for learner in learners}
        by_learner: dict[str, dict[str, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for record_type in RECORD_TYPES[2:]:
            for record in records.get(record_type, ()):
                learner_id = str(record["learner_source_id"])
                if learner_id not in known:
                    raise ValueError(f"{record_type} {record['source_id']} refers to learner {learner_id}, not given")
                by_learner[learner_id][record_type].append(record)
        contacts = {str(contact["source_id"]): contact for contact in records.get("contacts", ())}
        return cls(learners, contacts, by_learner)

    def of(self, learner: Mapping[str, Any], record_type: str) -> list[Mapping[str, Any]]:
        return self.by_learner.get(str(learner["source_id"]), {}).get(record_type, [])


def _as_text(value: Any) -> str | None:
    """A record value as CTF text: dates as YYYY-MM-DD, booleans as true/false, blanks as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _is_true(value: Any) -> bool:
    return _as_text(value) in {"true", "1"}


def _add(parent: etree._Element, tag: str, value: Any) -> None:
    """Add `<tag>value</tag>` unless the value is blank: CTF leaves out what it does not know."""
    text = _as_text(value)
    if text is not None:
        etree.SubElement(parent, tag).text = text


def _add_group(parent: etree._Element, group: etree._Element) -> None:
    """Add a container element only if something went into it."""
    if len(group):
        parent.append(group)


def _academic_year(day: date) -> int:
    """The year an academic year starts in; CTF headers and YearData turn over on 1 August."""
    return day.year if day.month >= 8 else day.year - 1


def _header(source: Mapping[str, str], moment: datetime) -> etree._Element:
    local = moment.astimezone(_LONDON) if moment.tzinfo else moment
    header = etree.Element("Header")
    _add(header, "DocumentName", "Common Transfer File")
    _add(header, "CTFversion", CTF_VERSION)
    _add(header, "DateTime", local.replace(tzinfo=None).isoformat(timespec="seconds"))
    _add(header, "DocumentQualifier", "partial")  # only the containers Steward holds
    _add(header, "SupplierID", SUPPLIER_ID)
    school = etree.SubElement(header, "SourceSchool")
    _add(school, "LEA", source["la_code"])
    _add(school, "Estab", source["establishment_number"])
    _add(school, "URN", source.get("urn"))
    _add(school, "SchoolName", source.get("name"))
    _add(school, "AcademicYear", source.get("academic_year") or _academic_year(local.date()))
    destination = etree.SubElement(header, "DestSchool")
    _add(destination, "LEA", DEST_LEA)
    _add(destination, "Estab", DEST_ESTAB)
    return header


def _pupil_element(learner: Mapping[str, Any], linked: _Linked, school: _WriterSchool) -> etree._Element:
    """A `<Pupil>` with its children in CTF order."""
    upn = _as_text(learner.get("upn"))
    if upn is None:
        raise ValueError(f"learner {learner['source_id']} has no UPN, which a CTF pupil must have")
    enrolments = linked.of(learner, "school-enrolments")
    current = _current(enrolments, lambda e: _as_text(e.get("leaving_date")), lambda e: _as_text(e.get("entry_date")))
    pupil = etree.Element("Pupil")
    _add(pupil, "UPN", upn)
    _add(pupil, "Surname", learner.get("legal_surname"))
    _add(pupil, "Forename", learner.get("legal_forename"))
    _add(pupil, "DOB", learner.get("date_of_birth"))
    _add(pupil, "Sex", learner.get("gender"))
    _add_group(pupil, _basic_details(learner, current))
    _add_group(pupil, _fsm_history(linked.of(learner, "entitlements")))
    _add_group(pupil, _sen_history(linked.of(learner, "special-needs")))
    _add_group(pupil, _address_element(learner))
    _add_group(pupil, _phones_element([("H", learner.get("phone"))]))
    _add(pupil, "Email", learner.get("email"))
    _add_group(pupil, _contacts_element(learner, linked))
    _add_group(pupil, _attendance_element(linked.of(learner, "session-attendance"), school))
    _add_group(pupil, _school_history(enrolments, school))
    return pupil


def _basic_details(learner: Mapping[str, Any], current: Mapping[str, Any] | None) -> etree._Element:
    details = etree.Element("BasicDetails")
    _add(details, "FormerUPN", learner.get("former_upn"))
    _add(details, "PreferredSurname", learner.get("preferred_surname"))
    _add(details, "PreferredForename", learner.get("preferred_forename"))
    _add(details, "MiddleNames", learner.get("middle_names"))
    _add(details, "NCyearActual", current.get("year_group") if current else None)
    _add(details, "Ethnicity", learner.get("ethnicity"))
    if _as_text(learner.get("first_language")):
        language = etree.SubElement(etree.SubElement(details, "Languages"), "Type")
        _add(language, "LanguageType", FIRST_LANGUAGE)
        _add(language, "Language", learner.get("first_language"))
    _add(details, "EnrolStatus", current.get("enrolment_status") if current else None)
    return details


def _fsm_history(entitlements: list[Mapping[str, Any]]) -> etree._Element:
    history = etree.Element("FSMhistory")
    for entitlement in entitlements:
        if _as_text(entitlement.get("entitlement_type")) != "FSM":
            continue  # a CTF carries free-school-meal eligibility only
        instance = etree.SubElement(history, "FSMinstance")
        _add(instance, "FSMstartDate", entitlement.get("start_date"))
        _add(instance, "FSMendDate", entitlement.get("end_date"))
        _add(instance, "UKcountry", "ENG")
    return history


def _sen_history(entries: list[Mapping[str, Any]]) -> etree._Element:
    """SEN entries, then the need types of the current entry ranked in list order."""
    history = etree.Element("SENhistory")
    for entry in entries:
        sen = etree.SubElement(history, "SEN")
        _add(sen, "StartDate", entry.get("start_date"))
        _add(sen, "EndDate", entry.get("end_date"))
        _add(sen, "SENprovision", entry.get("provision"))
    current = _current(entries, lambda e: _as_text(e.get("end_date")), lambda e: _as_text(e.get("start_date")))
    needs = etree.Element("SENneeds")
    for rank, need_type in enumerate((current or {}).get("need_types") or [], start=1):
        need = etree.SubElement(needs, "SENneed")
        _add(need, "SENtype", need_type)
        _add(need, "SENrank", rank)
    _add_group(history, needs)
    return history


def _address_element(record: Mapping[str, Any]) -> etree._Element:
    """Address lines end with the town, which is how `_address` reads them back."""
    address = etree.Element("Address")
    lines = [text for name in ("address_line1", "address_line2", "town") if (text := _as_text(record.get(name)))]
    if lines:
        block = etree.SubElement(address, "AddressLines")
        for number, line in enumerate(lines, start=1):
            _add(block, f"AddressLine{number}", line)
    _add(address, "PostCode", record.get("postcode"))
    return address


def _phones_element(numbers: list[tuple[str, Any]]) -> etree._Element:
    phones = etree.Element("Phones")
    for kind, number in numbers:
        if _as_text(number):
            phone = etree.SubElement(phones, "Phone")
            _add(phone, "TelephoneType", kind)
            _add(phone, "PhoneNo", number)
    return phones


def _contacts_element(learner: Mapping[str, Any], linked: _Linked) -> etree._Element:
    contacts = etree.Element("Contacts")
    links = sorted(linked.of(learner, "learner-contacts"), key=lambda link: int(_as_text(link.get("priority")) or 1))
    for link in links:
        contact_id = str(link["contact_source_id"])
        if contact_id not in linked.contacts:
            raise ValueError(f"learner-contact {link['source_id']} refers to contact {contact_id}, not given")
        contacts.append(_contact_element(link, linked.contacts[contact_id], learner))
    return contacts


def _contact_element(link: Mapping[str, Any], contact: Mapping[str, Any], learner: Mapping[str, Any]) -> etree._Element:
    element = etree.Element("Contact")
    _add(element, "Order", link.get("priority") or 1)
    _add(element, "Title", contact.get("title"))
    _add(element, "Surname", contact.get("surname"))
    _add(element, "Forename", contact.get("forename"))
    _add(element, "Gender", contact.get("gender"))
    _add(element, "Relationship", link.get("relationship"))
    _add(element, "Responsibility", link.get("parental_responsibility"))
    if _shares_address(link, contact, learner):
        _add(etree.SubElement(element, "Address"), "AddressAsPupil", True)
    else:
        _add_group(element, _address_element(contact))
    phones = [(kind, contact.get(field)) for kind, field in CONTACT_PHONE_FIELDS.items()]
    _add_group(element, _phones_element(phones))
    _add(element, "Email", contact.get("email"))
    return element


def _shares_address(link: Mapping[str, Any], contact: Mapping[str, Any], learner: Mapping[str, Any]) -> bool:
    """Write "address as pupil" only when nothing is lost: the contact lives with the pupil and
    has no address of its own, or the same one."""
    own = [_as_text(contact.get(name)) for name in ADDRESS_FIELDS]
    return _is_true(link.get("lives_with")) and (
        not any(own) or own == [_as_text(learner.get(name)) for name in ADDRESS_FIELDS]
    )


def _attendance_element(sessions: list[Mapping[str, Any]], school: _WriterSchool) -> etree._Element:
    """One YearData per academic year, its marks a string from the first session on.

    The statutory session counts are left out: they depend on the meaning of each mark, which
    is the attendance code set's business, not the file format's.
    """
    attendance = etree.Element("Attendance")
    by_year: dict[int, dict[tuple[date, str], str]] = defaultdict(dict)
    for record in sessions:
        reason = session_mark_problem(record)
        if reason is not None:
            where = f"{record['date']} {record['session']} {record['mark']!r}"
            raise ValueError(f"session {record['source_id']} ({where}) cannot be a CTF mark: {reason}")
        day = _as_date(record["date"])
        by_year[_academic_year(day)][day, str(record["session"])] = str(record["mark"])
    for year, marks in sorted(by_year.items()):
        start, text = _marks_string(marks)
        year_data = etree.SubElement(attendance, "YearData")
        _add(year_data, "Year", year)
        _add(year_data, "LEA", school.la_code)
        _add(year_data, "Estab", school.establishment)
        _add(year_data, "SchoolName", school.name)
        sessions_element = etree.SubElement(year_data, "AttendSessions")
        _add(sessions_element, "AttendanceStartDate", start)
        etree.SubElement(sessions_element, "AttendanceMarks").text = text
    return attendance


def session_mark_problem(record: Mapping[str, Any]) -> str | None:
    """Why this session has no place in a CTF's AttendanceMarks, or None when it has one.

    The marks are one character per session, AM then PM, Monday to Friday: a weekend has no
    position in the string (a closed weekday does, as "#"), a two-character code (C1, J1, Y1 ...)
    does not fit one, and "-" or a space would read back as no session at all.
    """
    day, session, mark = _as_date(record["date"]), str(record["session"]), str(record["mark"])
    if session not in SESSIONS:
        return f"the session is {session!r}, and a CTF has only AM and PM"
    if day.weekday() >= 5:
        return f"it is a {day:%A}, and a CTF's attendance marks run Monday to Friday only"
    if len(mark) != 1:
        return f"the code has {len(mark)} characters, and a CTF's attendance marks have one per session"
    if mark in NO_SESSION:
        return "that character means no session in a CTF"
    return None


def _marks_string(marks: dict[tuple[date, str], str]) -> tuple[date, str]:
    """The first day and the marks from it to the last day, "-" where there is no session."""
    start, end = min(day for day, _ in marks), max(day for day, _ in marks)
    characters: list[str] = []
    for day in _school_days(start):
        if day > end:
            break
        characters += [marks.get((day, session), "-") for session in SESSIONS]
    return start, "".join(characters)


def _school_history(enrolments: list[Mapping[str, Any]], school: _WriterSchool) -> etree._Element:
    history = etree.Element("SchoolHistory")
    for enrolment in enrolments:
        entry = etree.SubElement(history, "School")
        _add(entry, "LEA", school.la_code)
        _add(entry, "Estab", school.establishment)
        _add(entry, "SchoolName", school.name)
        _add(entry, "EntryDate", enrolment.get("entry_date"))
        _add(entry, "LeavingDate", enrolment.get("leaving_date"))
    return history
