"""Privacy provider for the school data model: learners, contacts and staff.

A subject is found by its row id; everything that refers to it by source id (enrolments,
attendance, relationships, ...) is exported or erased with it, through the declared
`references`, never through a hand-picked list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain
from typing import Any

from django.db.models import Field, Model, QuerySet
from django.forms.models import model_to_dict

from steward.mis.base import MisRecord, NextChangeVersion
from steward.mis.models import RECORD_MODELS, Contact, Learner, ProcessingRestriction, Staff, Tombstone
from steward.mis.versions import lock_school_versions
from steward.register.classification import PersonalData
from steward.register.providers import ErasureReport, HeldData, Subject

SUBJECT_MODELS: dict[str, type[MisRecord]] = {"learner": Learner, "contact": Contact, "staff": Staff}


def dependents(record_type: str) -> list[tuple[type[MisRecord], str]]:
    """(model, field) pairs of records that refer to a record of this type by source id."""
    return [(m, f) for m in RECORD_MODELS for f, target in m.references.items() if target == record_type]


# Inside `subject_rows_remembered`, each subject's row as first read (None: no such row).
_remembered: ContextVar[dict[Subject, MisRecord | None] | None] = ContextVar("subject_rows", default=None)


@contextmanager
def subject_rows_remembered() -> Iterator[None]:
    """Read each subject's row once while this lasts: an access bundle asks every provider about
    the same subject, and each starts from their row (seven reads of one row, before this)."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def subject_row(subject: Subject) -> MisRecord | None:
    """The learner, contact or staff row a subject names (None for other kinds, or another school's:
    the school is named in the query as well as by the tenant scope)."""
    remembered = _remembered.get()
    if remembered is not None and subject in remembered:
        return remembered[subject]
    model = SUBJECT_MODELS.get(subject.kind)
    row = model.objects.filter(school_id=subject.school_id, pk=subject.id).first() if model else None
    if remembered is not None:
        remembered[subject] = row
    return row


def _as_dict(row: Model) -> dict[str, Any]:
    data = model_to_dict(row, exclude=["photo"])
    data.pop("school", None)
    return data


def _exported_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The fields `_as_dict` gives, in its order: `model_to_dict`'s (editable ones, by creation
    order), without the photo and the school."""
    opts = model._meta
    fields = sorted(chain(opts.concrete_fields, opts.private_fields, opts.many_to_many))
    return [f for f in fields if getattr(f, "editable", False) and f.name not in ("photo", "school")]


def _as_dicts(rows: QuerySet[Any]) -> list[dict[str, Any]]:
    """`_as_dict` of every row, read as plain values: no model instance per row (a school year of
    attendance is hundreds of rows). The MIS models have no many-to-many fields, whose values
    `model_to_dict` would give as lists of objects; a model with one would need `_as_dict`."""
    fields = _exported_fields(rows.model)
    if rows.model._meta.many_to_many:
        return [_as_dict(r) for r in rows]
    names = [f.name for f in fields]
    return [dict(zip(names, values, strict=True)) for values in rows.values_list(*(f.attname for f in fields))]


class MisPrivacyProvider:
    app_label = "mis"

    def describe(self) -> list[HeldData]:
        held = []
        for model in RECORD_MODELS:
            classification = model.__dict__.get("privacy")
            if isinstance(classification, PersonalData):
                held.append(
                    HeldData(model._meta.label, (classification.subject,), tuple(sorted(classification.categories())))  # type: ignore[arg-type]
                )
        held.append(HeldData("mis.ProcessingRestriction", ("learner", "contact", "staff"), ("learner.identity",)))
        return held

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        row = subject_row(subject)
        if row is None:
            return {}
        exported = {row._meta.label: [_as_dict(row)]}
        for model, field in dependents(row.record_type):
            rows = model.objects.filter(school_id=row.school_id, **{field: row.source_id}).order_by("id")
            exported.setdefault(model._meta.label, []).extend(_as_dicts(rows))
        return exported

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        row = subject_row(subject)
        if row is None:
            return report
        if not dry_run:
            lock_school_versions(school_id=row.school_id)
        for model, rows in _subject_records(row):
            report.deleted[model._meta.label] = rows.count()
            if not dry_run:
                _delete_with_tombstones(model, rows.values_list("source_id", flat=True), school_id=row.school_id)
        report.kept["mis (school's MIS)"] = (
            "the school's own MIS remains the source of truth; the school must erase the subject there too, "
            "or the next full sync will send the record again"
        )
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        row = subject_row(subject)
        if row is None:
            return
        rows = ProcessingRestriction.objects.filter(
            school_id=row.school_id, record_type=row.record_type, source_id=row.source_id
        )
        if not restricted:
            lifted, _ = rows.delete()
            if lifted:
                _send_again(row)
        elif not rows.exists():
            ProcessingRestriction.objects.create(
                school_id=row.school_id, record_type=row.record_type, source_id=row.source_id
            )


def _subject_records(row: MisRecord) -> list[tuple[type[MisRecord], QuerySet[Any]]]:
    """The subject's own row and every record that refers to it, in the subject's school only."""
    targets: list[tuple[type[MisRecord], dict[str, str]]] = [(type(row), {"source_id": row.source_id})]
    targets += [(model, {field: row.source_id}) for model, field in dependents(row.record_type)]
    return [(model, model.objects.filter(school_id=row.school_id, **condition)) for model, condition in targets]


def _send_again(row: MisRecord) -> None:
    """A lifted restriction gives the subject's records new change versions: recipients' feeds
    left them out while restricted and moved past their versions, so they would never come again."""
    lock_school_versions(school_id=row.school_id)
    for _, rows in _subject_records(row):
        rows.update(change_version=NextChangeVersion())


def _delete_with_tombstones(model: type[MisRecord], source_ids: Any, *, school_id: int) -> None:
    """Delete one school's rows with these source ids, leaving tombstones (under the caller's
    `lock_school_versions`). Source ids are unique per school only, so the school is named here
    and not left to row-level security alone."""
    from django.db import connection

    ids = list(source_ids)
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {model._meta.db_table} WHERE school_id = %s AND source_id = ANY(%s) "  # noqa: S608  # nosec B608
            "RETURNING school_id, source_id) "
            f"INSERT INTO {Tombstone._meta.db_table} (school_id, record_type, source_id, change_version, deleted_at) "
            "SELECT school_id, %s, source_id, nextval('mis_change_version'), now() FROM gone",
            [school_id, ids, model.record_type],
        )
