"""Set-based checks of staged records: one query per record type, every problem named.

Each check is a SELECT over the staging table that yields (ref, source_id, field, reason);
they are joined with UNION ALL and capped, so a batch of a million bad rows costs one scan
and returns a readable first page of errors rather than a million lines.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from steward.ingest.records import RecordError
from steward.ingest.schema import Column
from steward.ingest.staging import StagedTable

MAX_ERRORS = 500

_TYPE_CHECKS: dict[str, tuple[str, str]] = {
    "date": ("date", "is not a valid date (expected YYYY-MM-DD)"),
    "datetime": ("timestamptz", "is not a valid date and time (expected ISO 8601, e.g. 2026-09-03T09:00:00+01:00)"),
    "time": ("time", "is not a valid time (expected HH:MM)"),
    "boolean": ("boolean", "is not true or false"),
    "integer": ("smallint", "is not a whole number in range"),
}
_REF = sql.SQL("coalesce(s._ref, 'line ' || (s._line + 1))")


def validate(
    cursor: Any,
    staged: dict[str, StagedTable],
    *,
    school_id: int,
    full: bool,
    deletes_table: str | None,
) -> list[RecordError]:
    errors: list[RecordError] = []
    for table in staged.values():
        if len(errors) >= MAX_ERRORS:
            break
        checks = _checks(table, staged, school_id=school_id, full=full, deletes_table=deletes_table)
        query = sql.SQL(" UNION ALL ").join(sql.SQL("({})").format(c) for c in checks)
        cursor.execute(sql.SQL("SELECT * FROM ({}) e LIMIT {}").format(query, sql.Literal(MAX_ERRORS)))
        errors += [
            RecordError(table.spec.record_type, ref, field, reason, source_id)
            for ref, source_id, field, reason in cursor.fetchall()
        ]
    return errors[:MAX_ERRORS]


def _checks(
    table: StagedTable, staged: dict[str, StagedTable], *, school_id: int, full: bool, deletes_table: str | None
) -> list[sql.Composable]:
    stage = sql.Identifier(table.name)
    present = set(table.columns)
    checks: list[sql.Composable] = [
        sql.SQL(
            "SELECT min(coalesce(s._ref, 'line ' || (s._line + 1))), s.source_id, 'source_id', "
            "'appears ' || count(*) || ' times in this batch' FROM {} s "
            "WHERE s.source_id IS NOT NULL GROUP BY s.source_id HAVING count(*) > 1"
        ).format(stage)
    ]
    for column in table.spec.columns:
        if column.name in present:
            checks += _column_checks(stage, column, staged, school_id=school_id, full=full, deletes_table=deletes_table)
    return checks


def _error(stage: sql.Identifier, field: str, reason: sql.Composable, where: sql.Composable) -> sql.Composable:
    return sql.SQL("SELECT {ref}, s.source_id, {field}, {reason} FROM {stage} s WHERE {where}").format(
        ref=_REF, field=sql.Literal(field), reason=reason, stage=stage, where=where
    )


def _column_checks(
    stage: sql.Identifier,
    column: Column,
    staged: dict[str, StagedTable],
    *,
    school_id: int,
    full: bool,
    deletes_table: str | None,
) -> list[sql.Composable]:
    col = sql.SQL("s.{}").format(sql.Identifier(column.name))
    value = sql.SQL("nullif({}, '')").format(col)
    has_value = sql.SQL("{} IS NOT NULL").format(value)
    checks: list[sql.Composable] = []
    if column.required:
        checks.append(_error(stage, column.name, sql.Literal("is required"), sql.SQL("{} IS NULL").format(value)))
    if column.kind in _TYPE_CHECKS:
        pg_type, reason = _TYPE_CHECKS[column.kind]
        checks.append(
            _error(
                stage,
                column.name,
                sql.Literal(reason),
                sql.SQL("{} AND NOT pg_input_is_valid({}, {})").format(has_value, col, sql.Literal(pg_type)),
            )
        )
        if column.minimum is not None:
            checks.append(
                _error(
                    stage,
                    column.name,
                    sql.Literal(f"must be at least {column.minimum}"),
                    sql.SQL("{} AND pg_input_is_valid({}, 'smallint') AND {}::smallint < {}").format(
                        has_value, col, col, sql.Literal(column.minimum)
                    ),
                )
            )
    if column.kind == "decimal":
        pg_type = f"numeric({column.max_digits},{column.decimal_places})"
        checks.append(
            _error(
                stage,
                column.name,
                sql.Literal(
                    f"is not a number with at most {column.max_digits} digits, {column.decimal_places} after the point"
                ),
                sql.SQL("{} AND NOT pg_input_is_valid({}, {})").format(has_value, col, sql.Literal(pg_type)),
            )
        )
    if column.kind == "email":
        checks.append(
            _error(
                stage,
                column.name,
                sql.Literal("is not an email address"),
                sql.SQL("{} AND {} !~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'").format(has_value, col),
            )
        )
    if column.kind == "base64":
        checks.append(
            _error(
                stage,
                column.name,
                sql.Literal("is not base64"),
                sql.SQL("{} AND {} !~ '^[A-Za-z0-9+/=[:space:]]*$'").format(has_value, col),
            )
        )
    if column.max_length is not None:
        checks.append(
            _error(
                stage,
                column.name,
                sql.SQL("'is ' || length({}) || ' characters long; the most is ' || {}").format(
                    col, sql.Literal(column.max_length)
                ),
                sql.SQL("length({}) > {}").format(col, sql.Literal(column.max_length)),
            )
        )
    if column.code_set:
        checks.append(_code_check(stage, column, value))
    if column.references:
        checks.append(
            _reference_check(stage, column, value, staged, school_id=school_id, full=full, deletes_table=deletes_table)
        )
    return checks


def _code_check(stage: sql.Identifier, column: Column, value: sql.Composable) -> sql.Composable:
    code_set = sql.Literal(column.code_set)
    if column.kind == "list":
        return sql.SQL(
            "SELECT {ref}, s.source_id, {field}, quote_literal(code) || ' is not a code of ' || {set} "
            "FROM {stage} s, unnest(string_to_array({value}, '|')) AS code "
            "WHERE NOT EXISTS (SELECT 1 FROM mis_codevalue v WHERE v.code_set = {set} AND v.code = code)"
        ).format(ref=_REF, field=sql.Literal(column.name), set=code_set, stage=stage, value=value)
    return _error(
        stage,
        column.name,
        sql.SQL("quote_literal({}) || ' is not a code of ' || {}").format(value, code_set),
        sql.SQL(
            "{} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mis_codevalue v WHERE v.code_set = {} AND v.code = {})"
        ).format(value, code_set, value),
    )


def _reference_check(
    stage: sql.Identifier,
    column: Column,
    value: sql.Composable,
    staged: dict[str, StagedTable],
    *,
    school_id: int,
    full: bool,
    deletes_table: str | None,
) -> sql.Composable:
    """A reference must name a record in this batch, or one already held that this batch keeps."""
    from steward.ingest.schema import spec_for

    target = spec_for(str(column.references))
    in_batch = staged.get(target.record_type)
    options: list[sql.Composable] = []
    if in_batch is not None:
        options.append(
            sql.SQL("EXISTS (SELECT 1 FROM {} t WHERE t.source_id = {})").format(sql.Identifier(in_batch.name), value)
        )
    if in_batch is None or not full:
        held = sql.SQL("EXISTS (SELECT 1 FROM {} t WHERE t.school_id = {} AND t.source_id = {})").format(
            sql.Identifier(target.table), sql.Literal(school_id), value
        )
        if deletes_table:
            held = sql.SQL(
                "({} AND NOT EXISTS (SELECT 1 FROM {} d WHERE d.record_type = {} AND d.source_id = {}))"
            ).format(held, sql.Identifier(deletes_table), sql.Literal(target.record_type), value)
        options.append(held)
    found = sql.SQL(" OR ").join(options)
    reason = sql.SQL("'refers to ' || {} || ' ' || quote_literal({}) || ', which does not exist'").format(
        sql.Literal(target.record_type.rstrip("s") if target.record_type != "staff" else "staff member"), value
    )
    return _error(stage, column.name, reason, sql.SQL("{} IS NOT NULL AND NOT ({})").format(value, found))
