"""Stage a batch into temporary tables with PostgreSQL COPY.

Every column is staged as text, so a malformed value never aborts the load: it is found by the
set-based checks in `validation.py` and reported with its record and field. CSV files are
streamed into COPY as they are (the fast path); other formats are written row by row.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from psycopg import errors as pg_errors
from psycopg import sql

from steward.ingest.records import BatchRejected, RecordError, Row
from steward.ingest.schema import RecordSpec

COPY_CHUNK = 1 << 20
ANALYZE_FROM_ROWS = 5000


@dataclass(frozen=True)
class StagedTable:
    spec: RecordSpec
    name: str
    columns: tuple[str, ...]  # the data columns present in the batch (source_id first)
    rows: int


def stage_name(spec: RecordSpec) -> str:
    return "stage_" + spec.record_type.replace("-", "_")


def create_stage(cursor: Any, spec: RecordSpec) -> str:
    name = stage_name(spec)
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(name)))
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in spec.names)
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE {} (_line bigint GENERATED ALWAYS AS IDENTITY, _ref text, {}, "
            "_hash text GENERATED ALWAYS AS ({}) STORED) ON COMMIT DROP"
        ).format(sql.Identifier(name), cols, content_hash(spec))
    )
    return name


def content_hash(spec: RecordSpec) -> sql.Composable:
    """MD5 of a record's values as sent (empty and missing alike), in the spec's column order.

    Computed by PostgreSQL as rows are copied in, on the text before any cast, so unchanged
    records are recognised and skipped before they are checked or converted.
    """
    parts = [sql.SQL("coalesce({}, '')").format(sql.Identifier(c.name)) for c in spec.columns if c.name != "source_id"]
    return sql.SQL("md5({})").format(sql.SQL(" || E'\\x1f' || ").join(parts))


def stage_rows(cursor: Any, spec: RecordSpec, rows: Iterable[Row]) -> StagedTable:
    name = create_stage(cursor, spec)
    names = spec.names
    known = set(names)
    count = 0
    copy_sql = sql.SQL("COPY {} (_ref, {}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    unknown: list[RecordError] = []
    with cursor.copy(copy_sql) as copy:
        for ref, values in rows:
            extra = set(values) - known
            if extra and len(unknown) < 50:
                unknown += [
                    RecordError(spec.record_type, ref, f, "is not a field of this record type", values.get("source_id"))  # type: ignore[arg-type]
                    for f in sorted(extra)
                ]
            copy.write_row([ref, *(_text(values.get(n)) for n in names)])
            count += 1
    if unknown:
        raise BatchRejected(unknown)
    analyze_if_large(cursor, name, count)
    return StagedTable(spec, name, tuple(names), count)


DAMAGED_MEMBER = "is damaged: its size or checksum does not match the archive's directory"


def stage_csv(cursor: Any, spec: RecordSpec, stream: IO[bytes], *, max_bytes: int) -> StagedTable:
    """Copy a CSV file as it is; its header (already checked) names the columns.

    The zip member is decompressed as it is read, so a member whose data disagrees with its
    header (a size understated, a wrong CRC) is found here, part-way through the COPY.
    """
    try:
        return _stage_csv(cursor, spec, stream, max_bytes=max_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise BatchRejected(
            [RecordError(spec.record_type, f"{spec.record_type}.csv", "file", DAMAGED_MEMBER)]
        ) from None


def _stage_csv(cursor: Any, spec: RecordSpec, stream: IO[bytes], *, max_bytes: int) -> StagedTable:
    header_line = stream.readline()
    header = _csv_header(spec, header_line)
    name = create_stage(cursor, spec)
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER false)").format(
        sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, header))
    )
    read = len(header_line)
    try:
        with cursor.copy(copy_sql) as copy:
            while chunk := stream.read(COPY_CHUNK):
                read += len(chunk)
                if read > max_bytes:
                    raise BatchRejected(
                        [
                            RecordError(
                                spec.record_type,
                                f"{spec.record_type}.csv",
                                "file",
                                f"is larger than the limit of {max_bytes} bytes once uncompressed",
                            )
                        ],
                        status=413,
                    )
                copy.write(chunk)
    except (pg_errors.DataError, pg_errors.BadCopyFileFormat) as exc:
        raise BatchRejected([_copy_error(spec, exc)]) from None
    rows = int(cursor.rowcount)
    analyze_if_large(cursor, name, rows)
    return StagedTable(spec, name, tuple(header), rows)


def analyze_if_large(cursor: Any, table: str, rows: int) -> None:
    """Statistics for the planner where they matter; a small table costs more to analyse than to scan.

    The planner needs the row count and a rough spread of values to size its hash joins, not fine
    histograms: a sample of 3,000 rows (statistics target 10) does, at a tenth of the default's cost.
    """
    if rows >= ANALYZE_FROM_ROWS:
        cursor.execute("SET LOCAL default_statistics_target = 10")
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def _csv_header(spec: RecordSpec, line: bytes) -> list[str]:
    import csv

    where = f"{spec.record_type}.csv"
    try:
        header = next(csv.reader([line.decode("utf-8-sig")]), [])
    except UnicodeDecodeError:
        raise BatchRejected([RecordError(spec.record_type, f"{where} line 1", "header", "is not UTF-8")]) from None
    header = [h.strip() for h in header]
    errors = [
        RecordError(spec.record_type, f"{where} line 1", h or "(empty)", "is not a field of this record type")
        for h in header
        if h not in spec.names
    ]
    errors += [
        RecordError(spec.record_type, f"{where} line 1", c.name, "is a required column and is missing")
        for c in spec.columns
        if c.required and c.name not in header
    ]
    duplicates = {h for h in header if header.count(h) > 1}
    errors += [RecordError(spec.record_type, f"{where} line 1", h, "appears twice in the header") for h in duplicates]
    if errors:
        raise BatchRejected(errors)
    return header


def _copy_error(spec: RecordSpec, exc: Exception) -> RecordError:
    """Turn PostgreSQL's COPY error (bad encoding, unbalanced quotes) into a record error."""
    diag = getattr(exc, "diag", None)
    context = getattr(diag, "context", "") or ""
    line = ""
    if ", line " in context:
        number = context.split(", line ", 1)[1].split(",", 1)[0].split(":", 1)[0].strip()
        if number.isdigit():
            line = f" line {int(number) + 1}"  # COPY counts from the first row after the header
    message = getattr(diag, "message_primary", "") or str(exc).splitlines()[0]
    return RecordError(spec.record_type, f"{spec.record_type}.csv{line}", "file", message)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
