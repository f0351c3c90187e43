"""What a parser hands to the ingest pipeline: records as text values, keyed by field name.

Every format (CTF XML, CSV zip, JSON, NDJSON) is read into a `BatchContent`; the pipeline
stages it with COPY, validates it set-based and merges it. Values are text exactly as they
will be checked: dates `YYYY-MM-DD`, times `HH:MM[:SS]`, date-times ISO 8601 with offset,
booleans `true`/`false`, decimals with a dot, lists (SEN need types) as Python lists of
codes, empty or missing as None. `ref` says where the record is in the file so an error can
point at it ("line 12", "Pupil 3 (UPN A123...)", "learners[4]").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

Value = str | list[str] | None

# PostgreSQL text cannot hold U+0000, and a lone UTF-16 surrogate (JSON's "\\ud800" escape makes
# one) has no UTF-8 form: either would fail deep in COPY, or when the errors are saved.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def escaped(text: str) -> str:
    """Text safe to store and show: backslash escapes for what `UNSTORABLE` finds, else as is."""
    return text.encode("unicode_escape").decode("ascii") if UNSTORABLE.search(text) else text


Row = tuple[str, dict[str, Value]]  # (ref, values by field name, including "source_id")


@dataclass(frozen=True)
class SourceSchool:
    """Who the file says it came from (CTF header, JSON envelope); checked against the client's school."""

    urn: int | None = None
    la_code: str = ""
    establishment_number: str = ""


@dataclass
class BatchContent:
    source_school: SourceSchool | None = None
    # record type (e.g. "learners") -> rows, in file order; iterated once.
    rows: dict[str, Iterable[Row]] = field(default_factory=dict)
    # record type -> a CSV stream whose header names fields (the fast path: copied as is).
    csv_streams: dict[str, IO[bytes]] = field(default_factory=dict)
    # record type -> source ids the MIS deleted (delta batches).
    deletes: dict[str, list[str]] = field(default_factory=dict)

    def record_types(self) -> list[str]:
        return sorted(set(self.rows) | set(self.csv_streams))


@dataclass(frozen=True)
class RecordError:
    """One problem with one record: which record, which field, why."""

    record_type: str
    ref: str
    field: str
    reason: str
    source_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """Storable even when a message quotes what the file sent (an unknown key, a bad id)."""
        return {
            "record_type": escaped(self.record_type),
            "ref": escaped(self.ref),
            "source_id": None if self.source_id is None else escaped(self.source_id),
            "field": escaped(self.field),
            "reason": escaped(self.reason),
        }


class BatchRejected(Exception):
    """The batch cannot be applied; nothing was changed."""

    def __init__(self, errors: list[RecordError], *, status: int = 422) -> None:
        self.errors = errors
        self.status = status
        first = errors[0].as_dict()
        super().__init__(f"{len(errors)} error(s); first: {first['ref']} {first['field']}: {first['reason']}")
