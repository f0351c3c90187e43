"""The columns of each record type as batch files carry them, derived from the `mis` models.

One source of truth: the CSV headers, JSON keys, staging tables, validation and merge SQL all
come from these specs, so a field added to a model is accepted everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models

from steward.mis.base import MisRecord
from steward.mis.models import MODEL_BY_TYPE, RECORD_MODELS

# Django field class -> (PostgreSQL type used to check and cast the staged text, kind).
_TYPES: dict[type[models.Field[Any, Any]], tuple[str, str]] = {
    models.DateField: ("date", "date"),
    models.DateTimeField: ("timestamptz", "datetime"),
    models.TimeField: ("time", "time"),
    models.BooleanField: ("boolean", "boolean"),
    models.PositiveSmallIntegerField: ("smallint", "integer"),
    models.SmallIntegerField: ("smallint", "integer"),
    models.IntegerField: ("integer", "integer"),
    models.DecimalField: ("numeric", "decimal"),
    models.BinaryField: ("bytea", "base64"),
    models.EmailField: ("text", "email"),
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # the type of the table column ("text" for strings)
    kind: str  # text | date | datetime | time | boolean | integer | decimal | base64 | list
    required: bool
    nullable: bool  # stored as NULL when empty (else as "" or the field's default)
    default: object
    max_length: int | None
    code_set: str | None
    references: str | None  # record type referred to by source id
    minimum: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    format: str | None = None  # a CBDS format with its own check (upn, postcode, ...)
    date_window: tuple[int, int] | None = None  # plausible (years before, years after) today


@dataclass(frozen=True)
class RecordSpec:
    record_type: str
    model: type[MisRecord]
    table: str
    columns: tuple[Column, ...]  # data columns, source_id first

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _column(model: type[MisRecord], field: models.Field[Any, Any]) -> Column:
    name = field.name
    if isinstance(field, ArrayField):
        pg_type, kind = "text[]", "list"
    else:
        pg_type, kind = next((v for cls, v in _TYPES.items() if type(field) is cls), ("text", "text"))
        if kind in ("text", "email") and not isinstance(field, models.CharField | models.TextField):
            raise TypeError(f"{model.__name__}.{name}: no ingest type for {type(field).__name__}")
    required = not field.null and not field.blank and not field.has_default()
    if name == "source_id":
        required = True
    return Column(
        name=name,
        pg_type=pg_type,
        kind=kind,
        required=required,
        nullable=field.null,
        default=field.get_default() if field.has_default() else None,
        max_length=getattr(field, "max_length", None) if kind in ("text", "email") else None,
        code_set=model.code_sets.get(name),
        references=model.references.get(name),
        minimum=0 if isinstance(field, models.PositiveSmallIntegerField) else None,
        max_digits=getattr(field, "max_digits", None),
        decimal_places=getattr(field, "decimal_places", None),
        format=model.formats.get(name),
        date_window=model.date_windows.get(name),
    )


@cache
def spec_for(record_type: str) -> RecordSpec:
    model = MODEL_BY_TYPE[record_type]
    fields = [f for f in model._meta.concrete_fields if f.name not in MisRecord.SYSTEM_FIELDS]
    source = model._meta.get_field("source_id")
    columns = (_column(model, source), *(_column(model, f) for f in fields))  # type: ignore[arg-type]
    return RecordSpec(record_type, model, model._meta.db_table, columns)


def all_specs() -> list[RecordSpec]:
    return [spec_for(m.record_type) for m in RECORD_MODELS]


def record_types() -> list[str]:
    return [m.record_type for m in RECORD_MODELS]
