"""Build batch files in memory, in the documented formats (docs/formats.md)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from steward.ingest.schema import spec_for


def csv_zip(records: dict[str, list[dict[str, Any]]], *, deletes: list[tuple[str, str]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record_type, rows in records.items():
            names = spec_for(record_type).names
            extra = sorted({k for r in rows for k in r} - set(names))  # kept, so tests can send unknown columns
            header = [c for c in names if any(c in r for r in rows)] + extra
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in header])
            archive.writestr(_member(f"{record_type}.csv"), text.getvalue())
        if deletes:
            archive.writestr(
                _member("deletes.csv"), "record_type,source_id\n" + "".join(f"{t},{i}\n" for t, i in deletes)
            )
    return buffer.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    """A fixed timestamp, so the same records always make the same bytes (and the same file hash)."""
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def json_batch(records: dict[str, list[dict[str, Any]]], **extra: Any) -> bytes:
    return json.dumps({"records": records, **extra}).encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(value)
    return str(value)


def learner(source_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "upn": "",
        "legal_forename": "Sam",
        "legal_surname": "Jones",
        "date_of_birth": "2015-03-02",
        "gender": "F",
        "ethnicity": "WBRI",
        "first_language": "ENG",
        **fields,
    }


def contact(source_id: str, **fields: Any) -> dict[str, Any]:
    return {"source_id": source_id, "forename": "Alex", "surname": "Jones", "email": "alex@example.invalid", **fields}


def link(source_id: str, learner_id: str, contact_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "learner_source_id": learner_id,
        "contact_source_id": contact_id,
        "relationship": "PAR",
        "parental_responsibility": True,
        "priority": 1,
        **fields,
    }


def mark(learner_id: str, date: str, session: str, code: str = "/") -> dict[str, Any]:
    return {
        "source_id": f"{learner_id}:{date}:{session}",
        "learner_source_id": learner_id,
        "date": date,
        "session": session,
        "mark": code,
    }


def small_school() -> dict[str, list[dict[str, Any]]]:
    return {
        "learners": [learner("L1"), learner("L2", legal_forename="Priya", gender="F", ethnicity="AIND")],
        "contacts": [contact("C1"), contact("C2", forename="Raj")],
        "learner-contacts": [link("LC1", "L1", "C1"), link("LC2", "L2", "C2", relationship="CAR")],
        "session-attendance": [
            mark("L1", "2026-09-03", "AM"),
            mark("L1", "2026-09-03", "PM", "\\"),
            mark("L2", "2026-09-03", "AM", "I"),
        ],
    }
