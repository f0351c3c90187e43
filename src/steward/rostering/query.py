"""The OneRoster 1.2 query parameters: `filter`, `sort`/`orderBy`, `fields`, `limit`/`offset`.

They apply to records already mapped to OneRoster's shape, so a client filters on exactly what it
is shown (its own per-recipient sourcedIds, fields its flow releases) and never on a column it was
not given: a field the flow does not release is absent, and a filter on it matches nothing.

The filter grammar (the specification's, with AND binding tighter than OR, as usual):

    filter     := comparison (("AND" | "OR") comparison)*
    comparison := FIELD OPERATOR "'" VALUE "'"
    OPERATOR   := "=" | "!=" | ">" | ">=" | "<" | "<=" | "~"

FIELD may be dotted (`class.sourcedId`, `roles.role`); a list matches when any element does.
`~` is "contains", case-insensitive. Dates and date-times are compared as such (a client's
`'2026-11-30T00:00:00Z'` and our `'2026-11-30T00:00:00.000Z'` are the same instant); anything
else as text. A bad query raises `QueryError` with the code minor the specification names for it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")
_TOKEN = re.compile(
    r"\s*(?:(?P<field>[A-Za-z][A-Za-z0-9_.]*)\s*(?P<op>!=|>=|<=|=|>|<|~)\s*'(?P<value>[^']*)'"
    r"|(?P<logic>AND|OR)(?=\s))\s*"
)


class QueryError(ValueError):
    """A query the specification does not allow: `code` is the imsx code minor to answer with."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: str


# An OR of ANDs of comparisons: [[a, b], [c]] is (a AND b) OR c.
Filter = list[list[Comparison]]


def parse_filter(text: str, known: frozenset[str]) -> Filter:
    """Parse `text`; every field's first part must be one of `known` (the record's fields)."""
    position = 0
    groups: Filter = [[]]
    expect_comparison = True
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise QueryError(
                "invalid_filter_field", f"filter: cannot read {text[position:]!r} (at character {position})"
            )
        position = match.end()
        if match.group("logic"):
            if expect_comparison:
                raise QueryError("invalid_filter_field", f"filter: {match.group('logic')} must follow a comparison")
            if match.group("logic") == "OR":
                groups.append([])
            expect_comparison = True
            continue
        if not expect_comparison:
            raise QueryError("invalid_filter_field", "filter: comparisons must be joined by AND or OR")
        field = match.group("field")
        if field.split(".", 1)[0] not in known:
            raise QueryError("invalid_filter_field", f"filter: {field!r} is not a field of these records")
        groups[-1].append(Comparison(field, match.group("op"), match.group("value")))
        expect_comparison = False
    if expect_comparison:
        raise QueryError("invalid_filter_field", "filter: expected a comparison such as status='active'")
    return groups


def _values(record: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted path (lists are searched element by element)."""
    current: list[Any] = [record]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            value = item.get(part) if isinstance(item, dict) else None
            if isinstance(value, list):
                found.extend(value)
            elif value is not None:
                found.append(value)
        current = found
    return current


def _comparable(value: Any, other: str) -> tuple[Any, Any]:
    """Both sides as dates or date-times when both read as such, else as text."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    for parse in (_datetime, _date):
        left, right = parse(text), parse(other)
        if left is not None and right is not None:
            return left, right
    return text, other


def _datetime(text: str) -> dt.datetime | None:
    if "T" not in text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(text: str) -> dt.date | None:
    if len(text) != 10:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _holds(record: dict[str, Any], comparison: Comparison) -> bool:
    # A reference (a dict) is compared through its parts (`class.sourcedId`), never as a whole.
    values = [v for v in _values(record, comparison.field) if not isinstance(v, dict)]
    if comparison.op == "~":
        return any(comparison.value.lower() in str(v).lower() for v in values)
    if comparison.op == "!=" and not values:
        return True
    test = _TESTS[comparison.op]
    return any(test(*_comparable(v, comparison.value)) for v in values)


def matches(record: dict[str, Any], where: Filter) -> bool:
    return any(all(_holds(record, c) for c in group) for group in where)


@dataclass(frozen=True)
class Query:
    """The parsed parameters of one collection request."""

    where: Filter | None
    sort: str
    descending: bool
    fields: tuple[str, ...] | None
    limit: int
    offset: int


def parse_query(params: Any, known: frozenset[str]) -> Query:
    """Read a request's query parameters (`params` is a QueryDict or a dict of strings)."""
    raw_filter = params.get("filter")
    where = parse_filter(raw_filter, known) if raw_filter else None
    sort = params.get("sort") or "sourcedId"
    if sort not in known:
        raise QueryError("invalid_sort_field", f"sort: {sort!r} is not a field of these records")
    order = (params.get("orderBy") or "asc").lower()
    if order not in ("asc", "desc"):
        raise QueryError("invalid_sort_field", f"orderBy: {order!r} is neither 'asc' nor 'desc'")
    fields = _fields(params.get("fields"), known)
    return Query(
        where,
        sort,
        order == "desc",
        fields,
        _number(params, "limit", DEFAULT_LIMIT, 1),
        _number(params, "offset", 0, 0),
    )


def _fields(raw: str | None, known: frozenset[str]) -> tuple[str, ...] | None:
    if not raw:
        return None
    chosen = tuple(f.strip() for f in raw.split(",") if f.strip())
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        raise QueryError(
            "invalid_selection_field", f"fields: {', '.join(unknown) or raw!r} not fields of these records"
        )
    return chosen


def _number(params: Any, name: str, default: int, least: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < least:
        raise QueryError("invalid_query_parameter", f"{name}: {raw!r} is not a whole number of at least {least}")
    return min(int(raw), MAX_LIMIT) if name == "limit" else int(raw)


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[int, str]]:
    def key(record: dict[str, Any]) -> tuple[int, str]:
        values = _values(record, field)
        return (1, "") if not values else (0, str(values[0]))

    return key


def ordered(records: Sequence[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """Every record the filter matches, in the query's order (not yet cut to a page)."""
    chosen = [r for r in records if query.where is None or matches(r, query.where)]
    chosen.sort(key=lambda r: str(r.get("sourcedId", "")))  # a stable order under any sort
    chosen.sort(key=_sort_key(query.sort), reverse=query.descending)
    if query.descending:  # records without the field stay last either way
        chosen.sort(key=lambda r: not _values(r, query.sort))
    return chosen


def apply(records: Sequence[dict[str, Any]], query: Query) -> tuple[list[dict[str, Any]], int]:
    """The page the query asks for and how many records matched in all (X-Total-Count)."""
    chosen = ordered(records, query)
    return chosen[query.offset : query.offset + query.limit], len(chosen)


def project(record: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return record if fields is None else {f: record[f] for f in fields if f in record}
