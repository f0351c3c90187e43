"""The shipped code sets fit the columns checked against them, and the migration loads them."""

from __future__ import annotations

import pytest
from django.contrib.postgres.fields import ArrayField
from django.db import models

from steward.mis.codesets import CODE_SETS, sync_code_sets
from steward.mis.models import RECORD_MODELS, CodeValue


def _max_length(model: type[models.Model], field_name: str) -> int:
    field = model._meta.get_field(field_name)
    if isinstance(field, ArrayField):
        field = field.base_field
    assert isinstance(field, models.CharField), f"{model.__name__}.{field_name} is not a text column"
    assert field.max_length is not None
    return field.max_length


def _coded_columns() -> list[tuple[type[models.Model], str, str]]:
    return [
        (model, field_name, code_set)
        for model in RECORD_MODELS
        for field_name, code_set in getattr(model, "code_sets", {}).items()
    ]


def test_models_name_code_sets() -> None:
    assert len(_coded_columns()) >= len(CODE_SETS)


def test_every_code_set_a_model_names_exists() -> None:
    missing = {code_set for _, _, code_set in _coded_columns()} - CODE_SETS.keys()
    assert not missing


def test_every_code_set_is_used_by_a_model() -> None:
    unused = CODE_SETS.keys() - {code_set for _, _, code_set in _coded_columns()}
    assert not unused


def test_every_code_fits_its_columns() -> None:
    too_long = [
        f"{model.__name__}.{field_name}: {code!r}"
        for model, field_name, code_set in _coded_columns()
        for code in CODE_SETS[code_set]
        if len(code) > _max_length(model, field_name)
    ]
    assert not too_long


def test_every_code_fits_the_code_value_table() -> None:
    code_length = _max_length(CodeValue, "code")
    description_length = _max_length(CodeValue, "description")
    set_length = _max_length(CodeValue, "code_set")
    for code_set, values in CODE_SETS.items():
        assert len(code_set) <= set_length
        for code, description in values.items():
            assert code and len(code) <= code_length, (code_set, code)
            assert description and len(description) <= description_length, (code_set, code)


def test_codes_are_clean() -> None:
    for code_set, values in CODE_SETS.items():
        for code in values:
            assert code == code.strip() and "|" not in code, (code_set, code)


def test_attendance_marks() -> None:
    marks = CODE_SETS["attendance_mark"]
    assert {"/", "\\", "L", "I", "O", "N", "G", "U", "K", "C1", "C2", "J1", "Q", "#"} <= marks.keys()
    assert {f"Y{n}" for n in range(1, 8)} <= marks.keys()
    assert {"H", "F"} <= marks.keys()  # older records carry withdrawn codes
    assert all(1 <= len(code) <= 2 for code in marks)


def test_ethnicity() -> None:
    ethnicity = CODE_SETS["ethnicity"]
    main = {"WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN"}
    main |= {"AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"}
    assert main <= ethnicity.keys()
    assert {"WENG", "WSCO", "WWEL", "WEEU", "WROG", "BSOM", "OKRD"} <= ethnicity.keys()
    assert all(len(code) == 4 for code in ethnicity)


def test_sen() -> None:
    assert set(CODE_SETS["sen_provision"]) == {"N", "K", "E"}
    assert {"SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA"} <= set(
        CODE_SETS["sen_need"]
    )


def test_other_known_codes() -> None:
    assert set(CODE_SETS["gender"]) == {"M", "F", "U"}
    assert set(CODE_SETS["session"]) == {"AM", "PM"}
    assert {"ENG", "ENB", "OTH", "OTB", "REF", "NOT", "POL", "PNJ", "URD", "BNG", "SOM"} <= set(CODE_SETS["language"])
    assert {"BUD", "CHR", "HIN", "JEW", "MUS", "NOR", "SIK", "REF"} <= set(CODE_SETS["religion"])
    assert {"PAR", "CAR", "STP", "SWR"} <= set(CODE_SETS["relationship"])
    assert {"C", "M", "S", "G"} <= set(CODE_SETS["enrolment_status"])
    assert {"PERM", "FIXD", "LNCH"} <= set(CODE_SETS["exclusion_type"])
    assert {"PRM", "FXT", "TMP"} <= set(CODE_SETS["contract_type"])
    assert {"registration", "year", "class", "teaching"} <= set(CODE_SETS["group_type"])
    assert {"FSM", "FSM6", "PP"} <= set(CODE_SETS["entitlement_type"])


@pytest.mark.django_db
def test_the_migration_loaded_exactly_the_code_sets() -> None:
    loaded = set(CodeValue.objects.values_list("code_set", "code"))
    assert loaded == {(s, c) for s, v in CODE_SETS.items() for c in v}


@pytest.mark.django_db
def test_sync_updates_descriptions_and_deletes_nothing() -> None:
    from django.apps import apps

    CodeValue.objects.filter(code_set="gender", code="M").update(description="stale")
    CodeValue.objects.create(code_set="gender", code="X", description="withdrawn code still stored")

    sync_code_sets(apps)

    assert CodeValue.objects.get(code_set="gender", code="M").description == CODE_SETS["gender"]["M"]
    assert CodeValue.objects.filter(code_set="gender", code="X").exists()
    assert CodeValue.objects.count() == sum(len(v) for v in CODE_SETS.values()) + 1
