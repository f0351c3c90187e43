"""Account names: plain ASCII from any name, unique, never a reserved leaver's name."""

from __future__ import annotations

import pytest

from steward.provisioning.naming import Name, NamingError, allocate, check_rule, fingerprint, fold
from steward.provisioning.people import Person


def person(forename: str, surname: str, **kw: object) -> Person:
    return Person(person_type="staff", source_id="S1", forename=forename, surname=surname, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("O'Brien", "obrien"),
        ("D’Arcy", "darcy"),
        ("Smith-Jones", "smith-jones"),
        ("Zoë", "zoe"),
        ("Łukasz", "lukasz"),
        ("Strauß", "strauss"),
        ("Ngọc Anh", "ngoc-anh"),
        ("  van der Berg ", "van-der-berg"),
        ("李", ""),
    ],
)
def test_names_fold_to_plain_ascii(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_collisions_number_the_second_and_third() -> None:
    used: set[str] = set()

    def taken(name: Name) -> bool:
        return name.user_name in used or name.login in used

    names = []
    for _ in range(3):
        name = allocate("{forename}.{surname}{n}@{domain}", person("Jo", "Bloggs"), "School.Example", taken)
        used |= {name.user_name, name.login}
        names.append(name.user_name)
    assert names == ["jo.bloggs@school.example", "jo.bloggs2@school.example", "jo.bloggs3@school.example"]


def test_a_rule_without_n_gets_the_number_before_the_at() -> None:
    first = allocate("{forename}.{surname}@{domain}", person("Jo", "Bloggs"), "s.example", lambda n: False)
    second = allocate(
        "{forename}.{surname}@{domain}", person("Jo", "Bloggs"), "s.example", lambda n: n.user_name == first.user_name
    )
    assert (first.user_name, second.user_name) == ("jo.bloggs@s.example", "jo.bloggs2@s.example")


def test_pupil_rule_uses_admission_year_and_initial() -> None:
    pupil = Person(
        person_type="learners", source_id="L1", forename="Zoë", surname="O'Neil-Ní Bhriain", admission_year=2024
    )
    name = allocate("{admission_yy}{surname}{initial}{n}@{domain}", pupil, "pupils.example", lambda n: False)
    assert name.user_name == "24oneil-ni-bhriainz@pupils.example"
    assert len(name.login) <= 20 and name.login.startswith("24oneil")


def test_very_long_names_stay_within_directory_limits_and_unique() -> None:
    long = person("Maximilian-Alexander-Fitzgerald", "Featherstonehaugh-Cholmondeley-Worthington-Smythe")
    used: set[str] = set()
    logins = []
    for _ in range(12):
        name = allocate("{forename}.{surname}{n}@{domain}", long, "school.example", lambda n: n.login in used)
        used.add(name.login)
        local = name.user_name.partition("@")[0]
        assert len(local) <= 64 and len(name.login) <= 20
        logins.append(name.login)
    assert len(set(logins)) == 12 and logins[-1].endswith("12")


def test_rules_that_cannot_make_a_name_are_refused() -> None:
    with pytest.raises(NamingError, match="unknown placeholder"):
        check_rule("{firstname}.{surname}@{domain}")
    with pytest.raises(NamingError, match="forename"):
        check_rule("user{n}@{domain}")
    check_rule("{forename}.{surname}{n}@{domain}")


def test_fingerprints_are_per_target_and_case_blind() -> None:
    assert fingerprint(1, "Jo.Bloggs@S.example") == fingerprint(1, "jo.bloggs@s.example")
    assert fingerprint(1, "jo") != fingerprint(2, "jo")
