"""The access bundle as a parent can read it: plain headings, labelled fields, codes in words.

The providers export rows as stored (`bundle.json` keeps them so, complete, for machines). A
person sending that to a parent would be sending `mis.SessionAttendance`, `content_hash` and
mark codes. Here each section gets a heading in words, each field the label its model declares,
each coded value the description from the shipped code sets (`mis.codesets`, the same table
ingest checks against), a key for attendance marks, and internal columns (ids, hashes, change
versions, source ids) are left out. The column list is derived, never picked per request, so a
new app's data is readable as soon as its provider exports it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model
from django.utils import timezone
from django.utils.text import capfirst

from steward.mis.codesets import CODE_SETS

# Headings for the sections a parent meets most; any other model is headed by its plural name.
HEADINGS = {
    "mis.Learner": "Personal details",
    "mis.Contact": "Contact details",
    "mis.Staff": "Staff record",
    "mis.LearnerContact": "Family and emergency contacts",
    "mis.SchoolEnrolment": "Enrolment at the school",
    "mis.GroupEnrolment": "Classes and groups",
    "mis.SessionAttendance": "Attendance",
    "mis.LessonAttendance": "Lesson attendance",
    "mis.Exclusion": "Suspensions and exclusions",
    "mis.ProcessingRestriction": "Restrictions on using the data",
    "rights.RightsRequest": "Your requests about this data",
}

# Columns that mean something only inside Steward: row ids, hashes, change counters, source ids.
INTERNAL = {"id", "pk", "school", "school_id", "content_hash", "change_version", "source_id", "request", "password"}
INTERNAL_SUFFIXES = ("_id", "_source_id", "_hash", "_key", "_last_t")

# Columns of the two logs, which are not models.
LOG_LABELS = {
    "at": "When",
    "who": "Who",
    "action": "What",
    "object_type": "Record",
    "purpose": "Why",
    "recipient": "Sent to",
    "record_type": "Kind of record",
    "channel": "How",
    "records_in_release": "Records in the same release",
    "flows": "Data flow",
}
ACTIONS = {
    "view": "Viewed",
    "create": "Created",
    "update": "Changed",
    "delete": "Deleted",
    "export": "Exported",
    "disclose": "Sent",
    "sign_in": "Signed in",
}

# A section with more rows than this reads as a list of lines, not a wide table.
LONG = 40


@dataclass(frozen=True)
class Table:
    """One section of the bundle: a heading, labelled columns, rows of words, and a key to the codes."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    key: str = ""  # the section's model label, by which the DPO withholds it
    codes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def layout(self) -> str:
        if len(self.rows) == 1:
            return "summary"
        return "list" if len(self.rows) > LONG else "table"

    @property
    def lines(self) -> list[str]:
        """Each row as one line, for long sections: "12 Sep 2025 · Morning · /"."""
        return [" · ".join(v for v in row if v) for row in self.rows]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.columns, self.rows[0], strict=True)) if self.rows else []


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d %b %Y %H:%M") if timezone.is_aware(value) else str(value)
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, cls=DjangoJSONEncoder)
    return str(value)


def internal(column: str) -> bool:
    return column in INTERNAL or column.endswith(INTERNAL_SUFFIXES)


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def heading(label: str) -> str:
    model = _model(label)
    if label in HEADINGS:
        return HEADINGS[label]
    return capfirst(str(model._meta.verbose_name_plural)) if model else label.rsplit(".", 1)[-1]


def _label(model: type[Model] | None, column: str) -> str:
    if model is not None:
        try:
            found = model._meta.get_field(column)
        except FieldDoesNotExist:
            found = None
        if found is not None and hasattr(found, "verbose_name"):
            return capfirst(str(found.verbose_name))
    return LOG_LABELS.get(column, capfirst(column.replace("_", " ")))


def _decoded(code_set: str, value: Any) -> str:
    text = cell(value)
    if code_set == "attendance_mark" or not text:
        return text  # marks stay codes, as on a register, with the key below the section
    return CODE_SETS.get(code_set, {}).get(text, text)


def section(label: str, records: list[dict[str, Any]]) -> Table:
    """One provider's records of one model, readable."""
    model = _model(label)
    code_sets: dict[str, str] = getattr(model, "code_sets", {}) if model else {}
    # A school record's own timestamps say when Steward stored its copy, not anything about the person.
    stored_copy = {"created_at", "updated_at"} if any("content_hash" in r for r in records) else set()
    columns: list[str] = []
    for record in records:
        columns += [c for c in record if c not in columns and not internal(c) and c not in stored_copy]
    rows = [[_decoded(code_sets[c], r.get(c)) if c in code_sets else cell(r.get(c)) for c in columns] for r in records]
    used = sorted({str(r.get(c)) for r in records for c in columns if code_sets.get(c) == "attendance_mark"})
    marks = CODE_SETS["attendance_mark"]
    codes = [(code, marks.get(code, "")) for code in used if code]
    return Table(heading(label), [_label(model, c) for c in columns], rows, key=label, codes=codes)


def log_table(title: str, records: list[dict[str, Any]]) -> Table:
    """The audit or disclosure log: their own columns, actions and record types in words."""
    columns = [c for c in (records[0] if records else {}) if not internal(c)]
    rows = []
    for record in records:
        row = []
        for c in columns:
            value = record.get(c)
            if c == "action":
                value = ACTIONS.get(
                    str(value), capfirst(str(value).replace("rights_request_", "rights request ").replace("_", " "))
                )
            elif c in ("object_type", "record_type") and value:
                value = heading(str(value)) if "." in str(value) else capfirst(str(value).replace("_", " "))
            row.append(cell(value))
        rows.append(row)
    return Table(title, [_label(None, c) for c in columns], rows)
