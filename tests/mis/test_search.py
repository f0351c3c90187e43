"""What staff type into a search is read once, the same way for the search box and rights requests."""

from __future__ import annotations

import datetime as dt

import pytest

from steward.mis.search import parse_query
from steward.register.providers import PersonQuery


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("  Sam.Jones@Example.org ", PersonQuery(email="sam.jones@example.org")),
        ("alex@example", PersonQuery(words=("alex@example",))),  # part of an address: a word
        ("a123456789012", PersonQuery(upn="A123456789012")),
        ("05/03/2016", PersonQuery(born=dt.date(2016, 3, 5))),
        ("2016-03-05", PersonQuery(born=dt.date(2016, 3, 5))),
        ("5 March 2016", PersonQuery(born=dt.date(2016, 3, 5))),
        ("31/02/2016", PersonQuery(words=("31/02/2016",))),  # no such day: not a date of birth
        ("Smith, Sam  J", PersonQuery(words=("Smith", "Sam"))),  # one-letter words say nothing
        ("   ", PersonQuery()),
    ],
)
def test_what_is_typed_is_read_as_an_email_a_upn_a_date_or_words(typed: str, read: PersonQuery) -> None:
    assert parse_query(typed) == read
