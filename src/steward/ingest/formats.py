"""Readers for the batch formats other than CTF: CSV zip, JSON and NDJSON (docs/formats.md)."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from steward.ingest.records import (
    UNSTORABLE,
    BatchContent,
    BatchRejected,
    RecordError,
    Row,
    SourceSchool,
    Value,
    escaped,
)
from steward.ingest.schema import record_types
from steward.ingest.staging import DAMAGED_MEMBER

FORMATS = ("ctf", "csv-zip", "json", "ndjson")
MAX_COMPRESSION_RATIO = 200  # above this a zip member is treated as a zip bomb


def _file_error(field: str, reason: str, *, status: int = 422, ref: str = "file") -> BatchRejected:
    return BatchRejected([RecordError("file", ref, field, reason)], status=status)


def read_csv_zip(stream: IO[bytes], *, max_uncompressed: int) -> BatchContent:
    """One `<record type>.csv` per type, plus an optional `deletes.csv` (record_type, source_id)."""
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise _file_error("file", "is not a zip archive") from None
    known = set(record_types())
    content = BatchContent()
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = info.filename.rsplit("/", 1)[-1]
        record_type = name.removesuffix(".csv")
        if not name.endswith(".csv") or (record_type not in known and record_type != "deletes"):
            raise _file_error(
                info.filename,
                f"is not a known file; expected one of {', '.join(sorted(known))} (each .csv) or deletes.csv",
                ref=info.filename,
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > max_uncompressed:
            raise _file_error(
                info.filename,
                f"the archive unpacks to more than {max_uncompressed} bytes",
                status=413,
                ref=info.filename,
            )
        if ratio > MAX_COMPRESSION_RATIO and info.file_size > 1 << 20:
            raise _file_error(
                info.filename, f"is compressed {ratio:.0f}:1, which only zip bombs are", status=413, ref=info.filename
            )
        if record_type == "deletes":
            try:
                content.deletes = _read_deletes(archive.open(info))
            except (zipfile.BadZipFile, zlib.error, EOFError):
                raise _file_error("file", DAMAGED_MEMBER, ref=info.filename) from None
        else:
            content.csv_streams[record_type] = archive.open(info)
    if not content.csv_streams and not content.deletes:
        raise _file_error("file", "the archive holds no record files")
    return content


def _read_deletes(stream: IO[bytes]) -> dict[str, list[str]]:
    import csv

    deletes: dict[str, list[str]] = {}
    reader = csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    if reader.fieldnames != ["record_type", "source_id"]:
        raise _file_error("deletes.csv", "its header must be: record_type,source_id", ref="deletes.csv line 1")
    for line, row in enumerate(reader, start=2):
        if row["record_type"] not in record_types():
            raise _file_error(
                "record_type", f"{row['record_type']!r} is not a record type", ref=f"deletes.csv line {line}"
            )
        deletes.setdefault(row["record_type"], []).append(row["source_id"])
    return deletes


def read_json(stream: IO[bytes]) -> BatchContent:
    """`{"school": {...}, "records": {"learners": [...], ...}, "deletes": {"learners": ["L1"]}}`."""
    try:
        document = _json_loads(stream.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _file_error("file", f"is not valid JSON: {exc}") from None
    except RecursionError:
        raise _file_error("file", _TOO_DEEP) from None
    if not isinstance(document, dict):
        raise _file_error("file", 'must be a JSON object with a "records" member')
    unknown = set(document) - {"school", "records", "deletes"}
    if unknown:
        raise _file_error(sorted(unknown)[0], "is not a member of a batch (school, records, deletes)", ref="$")
    content = BatchContent(source_school=_source_school(document.get("school"), "$.school"))
    records = document.get("records") or {}
    if not isinstance(records, dict):
        raise _file_error("records", "must be an object keyed by record type", ref="$.records")
    for record_type, items in records.items():
        _known_type(record_type, f"$.records.{record_type}")
        if not isinstance(items, list):
            raise _file_error(record_type, "must be a list of records", ref=f"$.records.{record_type}")
        content.rows[record_type] = list(_json_rows(record_type, items))
    content.deletes = _json_deletes(document.get("deletes") or {})
    return content


def read_ndjson(stream: IO[bytes]) -> BatchContent:
    """One JSON object a line: `{"school": {...}}`, `{"type": T, "record": {...}}` or `{"type": T, "delete": id}`."""
    content = BatchContent()
    rows: dict[str, list[Row]] = {}
    for number, raw in enumerate(_utf8_lines(stream), start=1):
        if not raw.strip():
            continue
        ref = f"line {number}"
        try:
            item = _json_loads(raw)
        except json.JSONDecodeError as exc:
            raise _file_error("line", f"is not valid JSON: {exc.msg}", ref=ref) from None
        except RecursionError:
            raise _file_error("line", _TOO_DEEP, ref=ref) from None
        if not isinstance(item, dict):
            raise _file_error("line", "must be a JSON object", ref=ref)
        if "school" in item:
            content.source_school = _source_school(item["school"], ref)
            continue
        record_type = str(item.get("type"))
        _known_type(record_type, ref)
        if "delete" in item:
            content.deletes.setdefault(record_type, []).append(_storable(str(item["delete"]), record_type, ref))
        elif isinstance(item.get("record"), dict):
            rows.setdefault(record_type, []).append((ref, _values(item["record"], record_type, ref)))
        else:
            raise _file_error("record", 'a line needs a "record" object or a "delete" id', ref=ref)
    content.rows = dict(rows)
    return content


def _utf8_lines(stream: IO[bytes]) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise _file_error("line", "is not UTF-8", ref=f"line {number}") from None


def _json_rows(record_type: str, items: list[Any]) -> Iterator[Row]:
    for index, item in enumerate(items):
        ref = f"$.records.{record_type}[{index}]"
        if not isinstance(item, dict):
            raise _file_error(record_type, "each record must be an object", ref=ref)
        yield ref, _values(item, record_type, ref)


def _json_deletes(deletes: Any) -> dict[str, list[str]]:
    if not isinstance(deletes, dict):
        raise _file_error("deletes", "must be an object keyed by record type", ref="$.deletes")
    for record_type in deletes:
        _known_type(record_type, f"$.deletes.{record_type}")
    return {t: [_storable(str(i), t, f"$.deletes.{t}[{n}]") for n, i in enumerate(ids)] for t, ids in deletes.items()}


_TOO_DEEP = "is nested too deeply to be a batch (a record is an object of plain values)"


def _json_loads(text: str | bytes) -> Any:
    """JSON with numbers kept as the text sent: a 5,000-digit number is then a value the checks
    reject by record and field, not an error of Python's int conversion (capped at 4,300 digits)."""
    return json.loads(text, parse_int=str, parse_float=str)


def _values(record: dict[str, Any], record_type: str, ref: str) -> dict[str, Value]:
    values: dict[str, Value] = {}
    source_id = record.get("source_id")
    for key, value in record.items():
        if UNSTORABLE.search(key):
            raise _unstorable(record_type, ref, escaped(key), key, source_id, naming=True)
        if value is None or isinstance(value, list):
            values[key] = value if value is None else [str(v) for v in value]
        elif isinstance(value, bool):
            values[key] = "true" if value else "false"
        else:
            values[key] = str(value)
        text = values[key]
        joined = text if isinstance(text, str) else "|".join(text or ())
        if UNSTORABLE.search(joined):
            raise _unstorable(record_type, ref, key, joined, source_id)
    return values


def _storable(text: str, record_type: str, ref: str) -> str:
    if UNSTORABLE.search(text):
        raise _unstorable(record_type, ref, "source_id", text, None)
    return text


def _unstorable(
    record_type: str, ref: str, field: str, text: str, source_id: Any, *, naming: bool = False
) -> BatchRejected:
    """Name the record and field; the offending text is described, never echoed."""
    what = (
        "a NUL character (\\u0000), which no text field can hold"
        if "\x00" in text
        else "a lone UTF-16 surrogate (\\ud800 to \\udfff), which is not a character"
    )
    reason = f"this field name contains {what}" if naming else f"contains {what}"
    sid = source_id if isinstance(source_id, str) else None
    return BatchRejected([RecordError(record_type, ref, field, reason, sid)])


def _known_type(record_type: Any, ref: str) -> None:
    if record_type not in record_types():
        raise _file_error(
            "type", f"{record_type!r} is not a record type; expected one of {', '.join(record_types())}", ref=ref
        )


def _source_school(value: Any, ref: str) -> SourceSchool | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _file_error("school", "must be an object with urn, la_code and establishment_number", ref=ref)
    urn = value.get("urn")
    if urn is not None and not (str(urn).isdigit() and len(str(urn)) <= 8):
        raise _file_error("urn", "must be a URN: a number of at most 8 digits", ref=ref)
    return SourceSchool(
        urn=int(urn) if urn is not None else None,
        la_code=str(value.get("la_code", "")),
        establishment_number=str(value.get("establishment_number", "")),
    )
