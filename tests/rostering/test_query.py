"""The OneRoster query grammar on its own: precedence, operators, dates, and what is refused."""

from __future__ import annotations

import pytest

from steward.rostering.query import QueryError, apply, matches, parse_filter, parse_query

KNOWN = frozenset({"sourcedId", "givenName", "dateLastModified", "roles", "class", "birthDate"})
RECORDS = [
    {
        "sourcedId": "a",
        "givenName": "Amy",
        "dateLastModified": "2026-11-30T10:00:00.000Z",
        "roles": [{"role": "student"}],
    },
    {
        "sourcedId": "b",
        "givenName": "Ben",
        "dateLastModified": "2026-11-29T10:00:00.000Z",
        "roles": [{"role": "teacher"}],
    },
    {
        "sourcedId": "c",
        "givenName": "Cy",
        "dateLastModified": "2026-11-30T09:00:00.000Z",
        "roles": [{"role": "student"}],
    },
]


def chosen(text: str) -> list[str]:
    where = parse_filter(text, KNOWN)
    return [r["sourcedId"] for r in RECORDS if matches(r, where)]


def test_and_binds_tighter_than_or() -> None:
    assert chosen("givenName='Ben' OR roles.role='student' AND givenName='Cy'") == ["b", "c"]
    assert chosen("roles.role='student' AND givenName!='Amy'") == ["c"]


def test_date_times_compare_as_instants_not_text() -> None:
    # "…T10:00:00Z" and "…T10:00:00.000Z" are the same instant; as text the first would sort after.
    assert chosen("dateLastModified>='2026-11-30T10:00:00Z'") == ["a"]
    assert chosen("dateLastModified>'2026-11-30T09:30:00+00:00'") == ["a"]
    assert chosen("dateLastModified<'2026-11-30T00:00:00Z'") == ["b"]


def test_contains_is_case_insensitive_and_references_are_not_compared_whole() -> None:
    assert chosen("givenName~'m'") == ["a"]
    assert chosen("class~'a'") == []


@pytest.mark.parametrize(
    "text",
    ["givenName='Amy", "givenName=Amy", "AND givenName='Amy'", "givenName='Amy' givenName='Ben'", "shoe='9'", "x"],
)
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_filter(text, KNOWN)
    assert refused.value.code == "invalid_filter_field"


def test_sort_paging_and_limits() -> None:
    query = parse_query({"sort": "givenName", "orderBy": "desc", "limit": "2", "offset": "1"}, KNOWN)
    page, total = apply(RECORDS, query)
    assert ([r["givenName"] for r in page], total) == (["Ben", "Amy"], 3)
    assert parse_query({"limit": "5000"}, KNOWN).limit == 1000
    assert parse_query({}, KNOWN).limit == 100
