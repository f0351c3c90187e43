"""Data portability (Art. 20): the subject's records in machine-readable formats another school
or service can load.

For a learner: a Common Transfer File with that one pupil (what every English MIS imports),
plus JSON and CSV of every MIS record about them. For a contact or staff member, who have no
CTF of their own: JSON and CSV. The records come from the MIS privacy provider, so they are
exactly what subject access shows.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder

from steward.core.csvsafe import safe_cell
from steward.ingest import ctf
from steward.ingest.schema import spec_for
from steward.mis.models import MODEL_BY_TYPE, Learner
from steward.mis.privacy import MisPrivacyProvider, subject_row
from steward.register.providers import Subject
from steward.tenancy.models import Organisation

_LEFT_OUT = (
    "Left out of learner.ctf.xml, because a Common Transfer File has no place for them"
    " (they are in records.json and csv/SessionAttendance.csv):"
)

# Record types a CTF carries that hang off the learner by `learner_source_id`.
_CTF_LEARNER_TYPES = ("learner-contacts", "school-enrolments", "special-needs", "entitlements", "session-attendance")


@dataclass(frozen=True)
class LearnerCtf:
    """A one-pupil CTF and the session marks it could not hold, each with the reason."""

    xml: bytes
    left_out: list[str]


def learner_ctf(*, school: Organisation, learner: Learner) -> LearnerCtf:
    """A CTF holding only this pupil, read with one query per record type (call in the school's scope).

    A session mark the CTF has no place for (a weekend, a two-character code) is left out of the
    file and listed, so that one such mark never costs the pupil the whole file: it is still in
    the JSON and CSV.
    """
    records: dict[str, list[dict[str, Any]]] = {"learners": [_values("learners", source_id=learner.source_id)[0]]}
    for record_type in _CTF_LEARNER_TYPES:
        records[record_type] = _values(record_type, learner_source_id=learner.source_id)
    records["entitlements"] = [r for r in records["entitlements"] if r["entitlement_type"] == "FSM"]
    contact_ids = [r["contact_source_id"] for r in records["learner-contacts"]]
    records["contacts"] = _values("contacts", source_id__in=contact_ids)
    sessions, left_out = [], []
    for session in records["session-attendance"]:
        reason = ctf.session_mark_problem(session)
        if reason is None:
            sessions.append(session)
        else:
            left_out.append(f"{session['date']:%d %B %Y} {session['session']}, mark {session['mark']!r}: {reason}")
    records["session-attendance"] = sessions
    xml = ctf.write_ctf(
        source={
            "la_code": school.la_code,
            "establishment_number": school.establishment_number,
            "urn": str(school.urn),
            "name": school.name,
        },
        records=records,
    )
    return LearnerCtf(xml=xml, left_out=left_out)


def _values(record_type: str, **condition: Any) -> list[dict[str, Any]]:
    rows = MODEL_BY_TYPE[record_type].objects.filter(**condition).order_by("source_id")
    return list(rows.values(*spec_for(record_type).names))


def write_portable(*, school: Organisation, subject: Subject, out: IO[bytes]) -> list[str]:
    """Write the zip to `out` (call in the school's scope); return the names written."""
    exported = MisPrivacyProvider().export_subject(subject)
    row = subject_row(subject)
    names: list[str] = []
    notes: list[str] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if isinstance(row, Learner):
            try:
                transfer = learner_ctf(school=school, learner=row)
            except ValueError as cannot:
                notes.append(f"No Common Transfer File: the record cannot be expressed in one ({cannot}).")
            else:
                archive.writestr("learner.ctf.xml", transfer.xml)
                names.append("learner.ctf.xml")
                if transfer.left_out:
                    notes += [_LEFT_OUT, *(f"- {line}" for line in transfer.left_out)]
        else:
            notes.append("No Common Transfer File: a CTF carries pupils only; the JSON and CSV files hold the data.")
        archive.writestr("records.json", json.dumps(exported, cls=DjangoJSONEncoder, indent=2))
        names.append("records.json")
        for model, rows in exported.items():
            name = f"csv/{model.removeprefix('mis.')}.csv"
            archive.writestr(name, _csv(rows))
            names.append(name)
        archive.writestr("README.txt", _readme(notes))
        names.append("README.txt")
    return names


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _text(row.get(c)) for c in columns})
    return buffer.getvalue()


def _text(value: Any) -> str:
    """A CSV cell for the person who asked: text a spreadsheet would run is made inert (`core.csvsafe`);
    records.json and the CTF keep every value exactly."""
    if value is None:
        return ""
    if isinstance(value, list):
        return safe_cell("|".join(str(v) for v in value))
    return safe_cell(value) if isinstance(value, str) else str(value)


def _readme(notes: list[str]) -> str:
    lines = [
        "Your records, to take to another school or service (UK GDPR Art. 20).",
        "",
        "learner.ctf.xml  a DfE Common Transfer File with this pupil: any school MIS in England imports it",
        "records.json     every record about you, one list per kind of record",
        "csv/             the same records, one spreadsheet per kind of record (text that a spreadsheet",
        "                 would run as a formula, such as =..., starts with ' there; the JSON is exact)",
        "",
        *notes,
    ]
    return "\n".join(lines) + "\n"
