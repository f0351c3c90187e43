"""The one rule for a learner's displayed name: preferred names, each falling back to the legal one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from steward.mis.names import display_name, known_forename


@dataclass
class _Named:
    legal_forename: str
    legal_surname: str
    preferred_forename: str = ""
    preferred_surname: str = ""


@pytest.mark.parametrize(
    ("learner", "shown", "forename"),
    [
        (_Named("Samuel", "Jones"), "Samuel Jones", "Samuel"),
        (_Named("Samuel", "Jones", preferred_forename="Sam"), "Sam Jones", "Sam"),
        (_Named("Samuel", "Jones", preferred_surname="Okafor"), "Samuel Okafor", "Samuel"),
        (_Named("Samuel", "Jones", "Sam", "Okafor"), "Sam Okafor", "Sam"),
    ],
)
def test_each_preferred_name_replaces_its_legal_one(learner: _Named, shown: str, forename: str) -> None:
    assert display_name(learner) == shown
    assert known_forename(learner) == forename
