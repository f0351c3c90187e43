"""One person's MIS records, as the back office's record page shows them.

The page exists for two readers: a school's administrator or DPO checking what Steward holds about
someone (before answering a request, say), and the ICT service's staff reading under a support
grant the school approved (issue #15). So the selector narrows twice, in the query, not in the
template:
- `types`: the MIS record types the reader may see (a grant's scope); other types are not queried.
- `show_special`: special category fields (ethnicity, religion, SEN, medical; the register says
  which) are left out and named as withheld. Support access never shows them; a school's DPO and
  administrator do.
A person whose processing is restricted (Art. 18) shows nothing but that fact: their records are
stored, not shown.

One statement per record type, newest first and capped, so a pupil with years of attendance marks
is a page, not a dump. Runs in the caller's tenant scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils import timezone

from steward.mis.base import MisRecord
from steward.mis.models import MODEL_BY_TYPE, CodeValue, ProcessingRestriction
from steward.mis.privacy import SUBJECT_MODELS, dependents
from steward.register.catalogue import CATEGORIES
from steward.register.classification import PersonalData, classification_of
from steward.register.labels import field_label, record_type_label

PEOPLE_TYPES = tuple(model.record_type for model in SUBJECT_MODELS.values())
SHOWN = 50  # rows per record type on the page
_SPECIAL = frozenset(c.code for c in CATEGORIES if c.special_category)
# Never shown as data: system columns, the reference back to the person, and the photo's bytes.
_HIDDEN = frozenset({"photo"})


@dataclass
class Section:
    """The rows of one record type: column labels and each row's values as text."""

    record_type: str
    label: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    more: bool = False  # more rows than the page shows
    withheld: list[str] = field(default_factory=list)


@dataclass
class PersonRecord:
    record_type: str
    source_id: str
    name: str
    restricted: bool = False
    # Their own record as (label, value) pairs, and its withheld fields' labels.
    fields: list[tuple[str, str]] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    # The records that refer to them, one section per record type that has any.
    sections: list[Section] = field(default_factory=list)


def _columns(model: type[MisRecord], skip: str, show_special: bool) -> tuple[list[str], list[str]]:
    """(shown field names, withheld field labels) of a record type."""
    declared = classification_of(model)
    categories: dict[str, str] = dict(declared.fields) if isinstance(declared, PersonalData) else {}
    shown: list[str] = []
    withheld: list[str] = []
    for f in model._meta.concrete_fields:
        if f.name in MisRecord.SYSTEM_FIELDS or f.name in _HIDDEN or f.name == skip:
            continue
        if categories.get(f.name) in _SPECIAL and not show_special:
            withheld.append(field_label(f"{model.record_type}.{f.name}"))
            continue
        shown.append(f.name)
    return shown, withheld


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dt.datetime):
        return f"{timezone.localtime(value):%-d %B %Y %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%-d %B %Y}"
    return str(value)


def _section(model: type[MisRecord], rows: models.QuerySet[Any], skip: str, show_special: bool, order: str) -> Section:
    names, withheld = _columns(model, skip, show_special)
    section = Section(model.record_type, record_type_label(model.record_type), withheld=withheld)
    section.columns = [field_label(f"{model.record_type}.{n}") for n in names]
    page = list(rows.order_by(order).values("source_id", *names)[: SHOWN + 1])
    section.more = len(page) > SHOWN
    coded = {n: model.code_sets[n] for n in names if n in model.code_sets}
    words = _code_words(coded, page[:SHOWN])
    for row in page[:SHOWN]:
        section.ids.append(row["source_id"])
        section.rows.append(
            [_text(words.get((coded[n], row[n]), row[n])) if n in coded else _text(row[n]) for n in names]
        )
    return section


def _code_words(coded: dict[str, str], rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Plain words for the codes on the page ("Female (F)"), one query for every coded column."""
    wanted = {(code_set, row[n]) for n, code_set in coded.items() for row in rows if row[n]}
    if not wanted:
        return {}
    found = CodeValue.objects.filter(
        code_set__in={c for c, _ in wanted}, code__in={code for _, code in wanted}
    ).values_list("code_set", "code", "description")
    return {(c, code): f"{description} ({code})" for c, code, description in found}


def _date_field(model: type[MisRecord]) -> str:
    for name in ("date", "lesson_date", "event_date", "start_date", "entry_date", "set_date"):
        if any(f.name == name for f in model._meta.concrete_fields):
            return f"-{name}"
    return "-id"


def person_record(
    *, record_type: str, source_id: str, types: frozenset[str] | None = None, show_special: bool = False
) -> PersonRecord | None:
    """The person's own record and the records that refer to them, of the types the reader may see.
    None when there is no such person in scope (or their own record type is not allowed)."""
    if record_type not in PEOPLE_TYPES or (types is not None and record_type not in types):
        return None
    model = MODEL_BY_TYPE[record_type]
    person = model.objects.filter(source_id=source_id).first()
    if person is None:
        return None
    name = getattr(person, "display_name", "") or " ".join(
        filter(None, [getattr(person, "preferred_forename", "") or getattr(person, "forename", ""), person.surname])  # type: ignore[attr-defined]
    )
    record = PersonRecord(record_type, source_id, name)
    if ProcessingRestriction.objects.filter(record_type=record_type, source_id=source_id).exists():
        record.restricted = True
        return record
    own = _section(model, model.objects.filter(pk=person.pk), "", show_special, "id")
    record.fields = list(zip(own.columns, own.rows[0], strict=True))
    record.withheld = own.withheld
    for dependent, ref in dependents(record_type):
        if types is not None and dependent.record_type not in types:
            continue
        rows = dependent.objects.filter(**{ref: source_id})
        section = _section(dependent, rows, ref, show_special, _date_field(dependent))
        if section.rows:
            record.sections.append(section)
    return record
