"""Set-based checks of staged records: every problem named by record, field and reason.

Only records that are new or changed are checked (an unchanged record was checked when it was
stored). Per record type there is one scan that evaluates every column rule on each row
(a LATERAL list of (field, reason) pairs), one GROUP BY for duplicate source ids, and one
hashed anti-join per reference column. Code sets are inlined as arrays, which PostgreSQL
hashes. The result is capped, so a batch of a million bad rows returns a readable page of errors.

Beyond its type, a value must be what the DfE's Common Basic Data Set says it is: a UPN with the
right check letter (computed in SQL, `mis.identifiers`), a UK postcode, an NI number, a teacher
reference number; dates in plain `YYYY-MM-DD` between 1900 and 2099 (PostgreSQL would also take
`today` or `infinity`), and the dates a model declares in `date_windows` near today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql

from steward.ingest.records import RecordError
from steward.ingest.schema import Column, spec_for
from steward.ingest.staging import StagedTable
from steward.mis.identifiers import UPN_PATTERN, upn_check_letter_sql

MAX_ERRORS = 500

_TYPE_CHECKS: dict[str, tuple[str, str]] = {
    "date": ("date", "is not a valid date (expected YYYY-MM-DD)"),
    "datetime": ("timestamptz", "is not a valid date and time (expected ISO 8601, e.g. 2026-09-03T09:00:00+01:00)"),
    "time": ("time", "is not a valid time (expected HH:MM)"),
    "boolean": ("boolean", "is not true or false"),
    "integer": ("smallint", "is not a whole number in range"),
}
# The text PostgreSQL would accept besides these ("today", "infinity", "20260-09-03") is refused.
_DATE_TEXT = {"date": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "datetime": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"}
_FORMATS: dict[str, tuple[str, str]] = {  # format -> (pattern, reason)
    "upn": (UPN_PATTERN, "is not a UPN: a check letter, 11 digits, then a digit (or a letter if temporary)"),
    "postcode": ("^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", "is not a UK postcode in capitals (e.g. CM2 9AB)"),
    "ni_number": ("^[A-Z]{2}[0-9]{6}[A-D]$", "is not a National Insurance number: two letters, six digits, A to D"),
    "teacher_number": ("^[0-9]{7}$", "is not a teacher reference number: 7 digits"),
}
_REF = sql.SQL("coalesce(s._ref, 'line ' || (s._line + 1))")
Rule = tuple[str, sql.Composable, sql.Composable]  # (field, broken-when condition, reason)


def load_code_sets(cursor: Any) -> dict[str, list[str]]:
    cursor.execute("SELECT code_set, array_agg(code ORDER BY code) FROM mis_codevalue GROUP BY code_set")
    return {name: list(codes) for name, codes in cursor.fetchall()}


def validate(
    cursor: Any,
    staged: dict[str, StagedTable],
    changed: dict[str, str],
    *,
    school_id: int,
    full: bool,
    deletes_table: str | None,
    unchanged: frozenset[str] = frozenset(),
    today: dt.date,
) -> list[RecordError]:
    """`changed` maps each record type to the table of its new or changed rows; types in
    `unchanged` have none, so only their duplicates need checking. `today` places the date windows."""
    codes = load_code_sets(cursor)
    errors: list[RecordError] = []
    for record_type, table in staged.items():
        queries = [_duplicates(table)]
        if record_type not in unchanged:
            queries.append(_row_rules(table, changed[record_type], codes, today))
        queries += [
            _reference(
                table, changed[record_type], column, staged, school_id=school_id, full=full, deletes_table=deletes_table
            )
            for column in table.spec.columns
            if column.references and column.name in table.columns and record_type not in unchanged
        ]
        for query in queries:
            if len(errors) >= MAX_ERRORS:
                return errors[:MAX_ERRORS]
            cursor.execute(sql.SQL("{} LIMIT {}").format(query, sql.Literal(MAX_ERRORS - len(errors))))
            errors += [
                RecordError(record_type, ref, field, reason, source_id)
                for ref, source_id, field, reason in cursor.fetchall()
            ]
    return errors


def _duplicates(table: StagedTable) -> sql.Composable:
    return sql.SQL(
        "SELECT min(coalesce(s._ref, 'line ' || (s._line + 1))), s.source_id, 'source_id', "
        "'appears ' || count(*) || ' times in this batch' FROM {} s "
        "WHERE s.source_id IS NOT NULL GROUP BY s.source_id HAVING count(*) > 1"
    ).format(sql.Identifier(table.name))


def _row_rules(table: StagedTable, changed: str, codes: dict[str, list[str]], today: dt.date) -> sql.Composable:
    rules: list[Rule] = []
    for column in table.spec.columns:
        if column.name in table.columns:
            rules += _column_rules(column, codes) + _cbds_rules(column, today)
    pairs = sql.SQL(",\n").join(
        sql.SQL("(CASE WHEN {} THEN {} END, {})").format(condition, sql.Literal(field), reason)
        for field, condition, reason in rules
    )
    # One cheap pass finds the bad rows; only they are expanded into one error per broken rule.
    any_broken = sql.SQL(" OR ").join(sql.SQL("({})").format(condition) for _, condition, _ in rules)
    return sql.SQL(
        "SELECT {ref}, s.source_id, e.field, e.reason FROM (SELECT * FROM {changed} s WHERE {any_broken}) s "
        "CROSS JOIN LATERAL (VALUES {pairs}) AS e(field, reason) WHERE e.field IS NOT NULL"
    ).format(ref=_REF, changed=sql.Identifier(changed), any_broken=any_broken, pairs=pairs)


def _column_rules(column: Column, codes: dict[str, list[str]]) -> list[Rule]:
    col = sql.SQL("s.{}").format(sql.Identifier(column.name))
    value = sql.SQL("nullif({}, '')").format(col)
    has_value = sql.SQL("{} IS NOT NULL").format(value)
    name = column.name
    rules: list[Rule] = []
    if column.required:
        rules.append((name, sql.SQL("{} IS NULL").format(value), sql.Literal("is required")))
    if column.kind in _TYPE_CHECKS:
        pg_type, reason = _TYPE_CHECKS[column.kind]
        rules.append((name, sql.SQL("{} AND NOT ({})").format(has_value, _valid(column)), sql.Literal(reason)))
        if column.minimum is not None:
            rules.append(
                (
                    name,
                    sql.SQL("{} AND pg_input_is_valid({}, 'smallint') AND {}::smallint < {}").format(
                        has_value, col, col, sql.Literal(column.minimum)
                    ),
                    sql.Literal(f"must be at least {column.minimum}"),
                )
            )
    if column.kind == "decimal":
        pg_type = f"numeric({column.max_digits},{column.decimal_places})"
        rules.append(
            (
                name,
                sql.SQL("{} AND NOT pg_input_is_valid({}, {})").format(has_value, col, sql.Literal(pg_type)),
                sql.Literal(
                    f"is not a number with at most {column.max_digits} digits, {column.decimal_places} after the point"
                ),
            )
        )
    if column.kind == "email":
        rules.append(
            (
                name,
                sql.SQL("{} AND {} !~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'").format(has_value, col),
                sql.Literal("is not an email address"),
            )
        )
    if column.kind == "base64":
        rules.append(
            (
                name,
                sql.SQL("{} AND {} !~ '^[A-Za-z0-9+/=[:space:]]*$'").format(has_value, col),
                sql.Literal("is not base64"),
            )
        )
    if column.max_length is not None:
        rules.append(
            (
                name,
                sql.SQL("length({}) > {}").format(col, sql.Literal(column.max_length)),
                sql.SQL("'is ' || length({}) || ' characters long; the most is ' || {}").format(
                    col, sql.Literal(column.max_length)
                ),
            )
        )
    if column.code_set:
        allowed = sql.Literal(codes.get(column.code_set, []))
        code_set = sql.Literal(column.code_set)
        if column.kind == "list":
            bad = sql.SQL(
                "(SELECT c FROM unnest(string_to_array({}, '|')) c WHERE NOT (c = ANY({}::text[])) LIMIT 1)"
            ).format(value, allowed)
            rules.append(
                (
                    name,
                    sql.SQL("{} IS NOT NULL").format(bad),
                    sql.SQL("quote_literal({}) || ' is not a code of ' || {}").format(bad, code_set),
                )
            )
        else:
            rules.append(
                (
                    name,
                    sql.SQL("{} AND NOT ({} = ANY({}::text[]))").format(has_value, value, allowed),
                    sql.SQL("quote_literal({}) || ' is not a code of ' || {}").format(value, code_set),
                )
            )
    return rules


def _reference(
    table: StagedTable,
    changed: str,
    column: Column,
    staged: dict[str, StagedTable],
    *,
    school_id: int,
    full: bool,
    deletes_table: str | None,
) -> sql.Composable:
    """A reference must name a record in this batch, or one already held that this batch keeps."""
    target = spec_for(str(column.references))
    value = sql.SQL("nullif(s.{}, '')").format(sql.Identifier(column.name))
    in_batch = staged.get(target.record_type)
    missing: list[sql.Composable] = []
    if in_batch is not None:
        missing.append(
            sql.SQL("NOT ({} IN (SELECT t.source_id FROM {} t WHERE t.source_id IS NOT NULL))").format(
                value, sql.Identifier(in_batch.name)
            )
        )
    if in_batch is None or not full:
        held = sql.SQL("SELECT t.source_id FROM {} t WHERE t.school_id = {}").format(
            sql.Identifier(target.table), sql.Literal(school_id)
        )
        if deletes_table:
            held = sql.SQL(
                "{} AND NOT EXISTS (SELECT 1 FROM {} d WHERE d.record_type = {} AND d.source_id = t.source_id)"
            ).format(held, sql.Identifier(deletes_table), sql.Literal(target.record_type))
        missing.append(sql.SQL("NOT ({} IN ({}))").format(value, held))
    noun = "staff member" if target.record_type == "staff" else target.record_type.rstrip("s")
    return sql.SQL(
        "SELECT {ref}, s.source_id, {field}, 'refers to ' || {noun} || ' ' || quote_literal({value}) "
        "|| ', which does not exist' FROM {changed} s WHERE {value} IS NOT NULL AND {missing}"
    ).format(
        ref=_REF,
        field=sql.Literal(column.name),
        noun=sql.Literal(noun),
        value=value,
        changed=sql.Identifier(changed),
        missing=sql.SQL(" AND ").join(missing),
    )


def _valid(column: Column) -> sql.Composable:
    """The staged text is a value of the column's type, written as the formats say."""
    col = sql.SQL("s.{}").format(sql.Identifier(column.name))
    valid = sql.SQL("pg_input_is_valid({}, {})").format(col, sql.Literal(_TYPE_CHECKS[column.kind][0]))
    if column.kind in _DATE_TEXT:
        valid = sql.SQL("{} ~ {} AND {}").format(col, sql.Literal(_DATE_TEXT[column.kind]), valid)
    return valid


def _cbds_rules(column: Column, today: dt.date) -> list[Rule]:
    """Formats with a check character, and dates in a plausible range."""
    col = sql.SQL("s.{}").format(sql.Identifier(column.name))
    has_value = sql.SQL("nullif({}, '') IS NOT NULL").format(col)
    name = column.name
    rules: list[Rule] = []
    if column.format is not None:
        pattern, reason = _FORMATS[column.format]
        rules.append(
            (name, sql.SQL("{} AND {} !~ {}").format(has_value, col, sql.Literal(pattern)), sql.Literal(reason))
        )
    if column.format == "upn":
        rules.append(
            (
                name,
                sql.SQL("{} ~ {} AND left({}, 1) <> {}").format(
                    col, sql.Literal(pattern), col, upn_check_letter_sql(col)
                ),
                sql.Literal("has the wrong check letter (the DfE's modulus 23 check of characters 2 to 13)"),
            )
        )
    if column.kind in _DATE_TEXT:
        rules.append(
            (
                name,
                sql.SQL("{} ~ '^[0-9]{{4}}-' AND left({}, 4) NOT BETWEEN '1900' AND '2099'").format(col, col),
                sql.Literal("is not in the years 1900 to 2099"),
            )
        )
    if column.date_window is not None:
        before, after = column.date_window
        earliest, latest = _years_from(today, -before), _years_from(today, after)
        # CASE, not AND: PostgreSQL does not promise to test the text before the cast.
        as_date = sql.SQL("CASE WHEN {} THEN {}::date END").format(_valid(column), col)
        ahead = "is in the future" if after == 0 else f"is more than {after} year{'s' * (after > 1)} ahead"
        rules += [
            (name, sql.SQL("{} > {}").format(as_date, sql.Literal(latest)), sql.Literal(ahead)),
            (
                name,
                sql.SQL("{} < {}").format(as_date, sql.Literal(earliest)),
                sql.Literal(f"is more than {before} years ago"),
            ),
        ]
    return rules


def _years_from(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
