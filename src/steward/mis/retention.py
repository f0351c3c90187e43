"""The hosted MIS service's retention rules over the MIS records it holds (see `register.retention_targets`).

Three rules: all of a school's records some days after its contract ended; a leaver's photograph;
a leaver's records. Records are deleted with tombstones, so recipients of an approved flow hear of
the deletion; a photograph is removed in place. Rows of a subject under a legal hold, and rows that
refer to one, are left out and counted as held.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from steward.mis.base import MisRecord
from steward.mis.models import MODEL_BY_TYPE, RECORD_MODELS, Learner, SchoolEnrolment, Tombstone
from steward.mis.privacy import dependents
from steward.mis.versions import lock_school_versions
from steward.register.models import RetentionRule
from steward.register.retention_targets import (
    Context,
    Deleted,
    Found,
    Holds,
    RetentionTarget,
    hold_apart,
    returning,
)
from steward.tenancy.models import Contract


def held_rows(model: type[Any], holds: Holds) -> Q:
    """Rows that are, or refer to, a held subject of their school: by source id or by a reference column."""
    if not issubclass(model, MisRecord):
        return Q(pk__in=[])
    condition = holds.subject_rows("source_id", model.record_type)
    for column, record_type in model.references.items():
        condition |= holds.subject_rows(column, record_type)
    return condition


def leavers_before(cutoff: dt.date) -> dict[int, list[str]]:
    """Source ids of learners whose every enrolment at their school ended before the cutoff, per school
    (of the schools in the current scope).

    Taken as lists, once, so that the target's querysets do not change under the sweep as it
    deletes the enrolments the condition reads: the preview's rows are the sweep's rows.
    """
    current = SchoolEnrolment.objects.filter(
        Q(leaving_date__isnull=True) | Q(leaving_date__gte=cutoff),
        school_id=OuterRef("school_id"),
        learner_source_id=OuterRef("learner_source_id"),
    )
    left = SchoolEnrolment.objects.filter(leaving_date__lt=cutoff).exclude(Exists(current))
    found: dict[int, set[str]] = {}
    for school_id, source_id in left.order_by().values_list("school_id", "learner_source_id").distinct():
        found.setdefault(school_id, set()).add(source_id)
    return {school_id: sorted(ids) for school_id, ids in sorted(found.items())}


def of_leavers(column: str, leavers: dict[int, list[str]]) -> Q:
    """Rows whose `column` names a leaver of their own school."""
    condition = Q(pk__in=[])
    for school_id, ids in leavers.items():
        condition |= Q(school_id=school_id, **{f"{column}__in": ids})
    return condition


def delete_with_tombstones(model: type[MisRecord], qs: QuerySet[Any], *, school_id: int) -> list[str]:
    """Delete one school's rows, leave a tombstone for each (recipients see the deletion); the source ids gone.

    Under the school's version lock, so the tombstones' versions commit in order with ingest's."""
    lock_school_versions(school_id=school_id)
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {model._meta.db_table} WHERE school_id = %s AND id IN ({sql}) "  # noqa: S608  # nosec B608
            "RETURNING school_id, source_id), "
            f"stone AS (INSERT INTO {Tombstone._meta.db_table} "
            "(school_id, record_type, source_id, change_version, deleted_at) "
            "SELECT school_id, %s, source_id, nextval('mis_change_version'), now() FROM gone) "
            "SELECT source_id FROM gone",
            [school_id, *params, model.record_type],
        )
        return [row[0] for row in cursor.fetchall()]


def _delete_records(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    assert school_id is not None  # noqa: S101 - MIS records are always one school's target
    model = qs.model
    ids = delete_with_tombstones(model, qs, school_id=school_id)
    return Deleted(len(ids), "mis_records", model.record_type, ids)


def _replay_records(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    if kind != "mis_records" or school_id is None:
        return False
    model = MODEL_BY_TYPE[target]
    delete_with_tombstones(model, model.objects.filter(source_id__in=ids), school_id=school_id)
    return True


def _remove_photos(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    table = qs.model._meta.db_table
    ids = returning(f"UPDATE {table} SET photo = NULL WHERE id IN ({{ids}}) RETURNING source_id", qs)  # noqa: S608  # nosec B608
    return Deleted(len(ids), "photos", "learners", ids)


def _replay_photos(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    if kind != "photos":
        return False
    Learner.objects.filter(source_id__in=ids).update(photo=None)
    return True


def _contract_ended(rule: RetentionRule, ctx: Context) -> list[Found]:
    ended = sorted(
        Contract.objects.filter(
            school_id__in=ctx.school_ids,
            services__contains=["hosted_mis"],
            end_date__lt=ctx.cutoff(rule),
            status=Contract.Status.ENDED,
        ).values_list("school_id", flat=True)
    )
    if not ended:
        return []
    found = Found(
        "all hosted MIS data",
        f"the contract ended more than {rule.period_days} days ago",
        [m.objects.filter(school_id__in=ended) for m in RECORD_MODELS],
    )
    return [hold_apart(found, ctx.holds, held_rows)]


def _leavers_photos(rule: RetentionRule, ctx: Context) -> list[Found]:
    photos = Learner.objects.filter(of_leavers("source_id", leavers_before(ctx.cutoff(rule))), photo__isnull=False)
    found = Found("photographs of learners who left", f"left more than {rule.period_days} days ago", [photos])
    return [hold_apart(found, ctx.holds, held_rows)]


def _leavers_records(rule: RetentionRule, ctx: Context) -> list[Found]:
    leavers = leavers_before(ctx.cutoff(rule))
    found = Found(
        "records of learners who left",
        f"left more than {rule.period_days} days ago",
        [Learner.objects.filter(of_leavers("source_id", leavers))]
        + [model.objects.filter(of_leavers(column, leavers)) for model, column in dependents("learners")],
    )
    return [hold_apart(found, ctx.holds, held_rows)]


TARGETS = (
    RetentionTarget("hosted_mis", "contract_end", None, "school", _contract_ended, _delete_records, _replay_records),
    RetentionTarget(
        "hosted_mis", "leaving_date", "learner.photo", "school", _leavers_photos, _remove_photos, _replay_photos
    ),
    RetentionTarget(
        "hosted_mis", "leaving_date", "learner.identity", "school", _leavers_records, _delete_records, _replay_records
    ),
)
