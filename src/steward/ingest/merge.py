"""Merge staged records into the `mis` tables: one statement per record type.

Only rows that are new or whose content hash differs are written, each with a fresh change
version from the global sequence, so an unchanged nightly file costs reads, not writes, and
subscribers asking `?since=` see exactly what changed. Full batches tombstone what they omit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

from steward.ingest.schema import Column, RecordSpec, spec_for
from steward.ingest.staging import StagedTable, analyze_if_large
from steward.mis.models import RECORD_MODELS, Tombstone

# Up to this many staged rows, what changed is found by probing the held rows' unique index per row.
PROBE_UP_TO_ROWS = 20_000

_CASTS = {
    "date": "date",
    "datetime": "timestamptz",
    "time": "time",
    "boolean": "boolean",
    "integer": "integer",
    "decimal": "numeric",
}


def _cast(column: Column, present: bool) -> sql.Composable:
    """The staged text as the table's typed value: empty means NULL, "" or the field's default."""
    if not present:
        raw: sql.Composable = sql.SQL("NULL::text")
    else:
        raw = sql.SQL("nullif(s.{}, '')").format(sql.Identifier(column.name))
    if column.kind == "list":
        typed: sql.Composable = sql.SQL("coalesce(string_to_array({}, '|'), '{{}}'::text[])").format(raw)
    elif column.kind == "base64":
        typed = sql.SQL("decode({}, 'base64')").format(raw)
    elif column.kind in _CASTS:
        typed = sql.SQL("({})::{}").format(raw, sql.SQL(_CASTS[column.kind]))
    else:
        typed = raw
    if column.nullable or column.required or column.kind in ("list", "base64"):
        return typed  # required columns were checked present; nullable ones stay NULL
    fallback = column.default if column.default is not None else ""
    if isinstance(fallback, bool):
        return sql.SQL("coalesce({}, {})").format(typed, sql.SQL("true" if fallback else "false"))
    return sql.SQL("coalesce({}, {})").format(typed, sql.Literal(fallback))


def find_changed(cursor: Any, table: StagedTable, *, school_id: int) -> tuple[str, int, bool]:
    """The staged rows that are new or differ from what is held: a temporary table, or the stage
    itself when the school holds nothing of this type yet (a first load copies nothing twice)."""
    target = sql.Identifier(table.spec.table)
    cursor.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE school_id = {})").format(target, sql.Literal(school_id))
    )
    if not cursor.fetchone()[0]:
        return table.name, table.rows, True
    name = f"{table.name}_changed"
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(name)))
    with planned_for_stage(cursor, table.rows):
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}").format(
                sql.Identifier(name), changed_rows_query(table.name, table.spec.table, school_id)
            )
        )
        count = int(cursor.rowcount)
    analyze_if_large(cursor, name, count)
    return name, count, False


def changed_rows_query(stage: str, target: str, school_id: int) -> sql.Composable:
    """The staged rows whose (source id, content hash) the school does not already hold."""
    return sql.SQL("""
        SELECT s.* FROM {stage} s
        WHERE NOT EXISTS (
            SELECT 1 FROM {target} t
            WHERE t.school_id = {school} AND t.source_id = s.source_id AND t.content_hash = s._hash)
    """).format(stage=sql.Identifier(stage), target=sql.Identifier(target), school=sql.Literal(school_id))


@contextmanager
def planned_for_stage(cursor: Any, rows: int) -> Iterator[None]:
    """How what changed is found in a stage of `rows` rows. A nightly delta's few rows each look up
    their held row through the unique index on (school, source id), in a nested loop, and only that
    is left to the planner: just after a school's first load the statistics say it holds a handful
    of rows, and on that estimate the planner would rather scan all of them per staged row (by
    another index that leads with the school, or from a materialised copy), which costs minutes. A
    large stage keeps the batch's hash joins."""
    small = rows <= PROBE_UP_TO_ROWS
    if small:
        probe_only(cursor, True)
    yield
    if small:
        probe_only(cursor, False)


_PLANS_BESIDES_PROBES = ("hashjoin", "mergejoin", "material", "seqscan", "bitmapscan")


def probe_only(cursor: Any, on: bool) -> None:
    """Leave the planner nested loops over index scans only (or give it back what the batch allows:
    everything but nested loops, see `services._apply`)."""
    settings = [f"SET LOCAL enable_{plan} = {'off' if on else 'on'}" for plan in _PLANS_BESIDES_PROBES]
    settings.append(f"SET LOCAL enable_nestloop = {'on' if on else 'off'}")
    cursor.execute("; ".join(settings))


def merge_table(
    cursor: Any, table: StagedTable, changed: str, changed_rows: int, *, school_id: int, first_load: bool
) -> tuple[int, int, int]:
    """Upsert the changed rows, each with a new change version; return (inserted, updated, unchanged).

    On a first load (the school held nothing of this type; batches of a school are serialised)
    a plain INSERT does, which spares PostgreSQL the speculative insertion of ON CONFLICT.
    """
    spec = table.spec
    data = [c for c in spec.columns if c.name != "source_id"]
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in data)
    casts = sql.SQL(", ").join(_cast(c, c.name in table.columns) for c in data)
    updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c.name)) for c in data)
    if first_load:
        cursor.execute(
            sql.SQL("""
            INSERT INTO {target} (school_id, source_id, {names}, content_hash, change_version, created_at, updated_at)
            SELECT {school}, s.source_id, {casts}, s._hash, nextval('mis_change_version'), now(), now()
            FROM {changed} s
        """).format(
                target=sql.Identifier(spec.table),
                names=names,
                school=sql.Literal(school_id),
                casts=casts,
                changed=sql.Identifier(changed),
            )
        )
        return int(cursor.rowcount), 0, table.rows - changed_rows
    cursor.execute(
        sql.SQL("""
        WITH written AS (
            INSERT INTO {target} (school_id, source_id, {names}, content_hash, change_version, created_at, updated_at)
            SELECT {school}, s.source_id, {casts}, s._hash, nextval('mis_change_version'), now(), now()
            FROM {changed} s
            ON CONFLICT (school_id, source_id) DO UPDATE SET {updates},
                content_hash = EXCLUDED.content_hash, change_version = EXCLUDED.change_version,
                updated_at = EXCLUDED.updated_at
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
    """).format(
            target=sql.Identifier(spec.table),
            names=names,
            school=sql.Literal(school_id),
            casts=casts,
            changed=sql.Identifier(changed),
            updates=updates,
        )
    )
    inserted, updated = cursor.fetchone()
    return inserted, updated, table.rows - changed_rows


def tombstone_missing(cursor: Any, table: StagedTable, *, school_id: int) -> int:
    """A full batch is the whole truth for its types: what it omits was deleted in the MIS."""
    return _tombstone(
        cursor,
        table.spec,
        school_id,
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} s WHERE s.source_id = t.source_id)").format(sql.Identifier(table.name)),
    )


def delete_listed(cursor: Any, spec: RecordSpec, deletes_table: str, *, school_id: int) -> int:
    return _tombstone(
        cursor,
        spec,
        school_id,
        sql.SQL("EXISTS (SELECT 1 FROM {} d WHERE d.record_type = {} AND d.source_id = t.source_id)").format(
            sql.Identifier(deletes_table), sql.Literal(spec.record_type)
        ),
    )


def cascade_dangling(cursor: Any, deleted_types: set[str], *, school_id: int) -> dict[str, int]:
    """Records that referred to a deleted record go too (with tombstones), so none dangles."""
    removed: dict[str, int] = {}
    pending = set(deleted_types)
    while pending:
        target_type = pending.pop()
        target = spec_for(target_type)
        for model in RECORD_MODELS:
            for field, refers_to in model.references.items():
                if refers_to != target_type:
                    continue
                spec = spec_for(model.record_type)
                count = _tombstone(
                    cursor,
                    spec,
                    school_id,
                    sql.SQL("NOT EXISTS (SELECT 1 FROM {} x WHERE x.school_id = {} AND x.source_id = t.{})").format(
                        sql.Identifier(target.table), sql.Literal(school_id), sql.Identifier(field)
                    ),
                )
                if count:
                    removed[spec.record_type] = removed.get(spec.record_type, 0) + count
                    pending.add(spec.record_type)
    return removed


def _tombstone(cursor: Any, spec: RecordSpec, school_id: int, condition: sql.Composable) -> int:
    cursor.execute(
        sql.SQL("""
        WITH gone AS (
            DELETE FROM {target} t WHERE t.school_id = {school} AND {condition} RETURNING t.source_id
        ), marked AS (
            INSERT INTO {tombstones} (school_id, record_type, source_id, change_version, deleted_at)
            SELECT {school}, {record_type}, source_id, nextval('mis_change_version'), now() FROM gone
            RETURNING 1
        )
        SELECT count(*) FROM marked
    """).format(
            target=sql.Identifier(spec.table),
            school=sql.Literal(school_id),
            condition=condition,
            tombstones=sql.Identifier(Tombstone._meta.db_table),
            record_type=sql.Literal(spec.record_type),
        )
    )
    (count,) = cursor.fetchone()
    return int(count)
