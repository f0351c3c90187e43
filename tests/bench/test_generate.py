"""The synthetic local authority (steward.demo.synthetic): deterministic, well-formed, referentially whole.

Only the files are checked, no database: headers against the ingest spec, every value against
its column's kind, every code against the lists below, every reference within its zip.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from steward.demo.synthetic import (
    COLUMNS,
    DELTA_FIELDS,
    LA_CODE,
    generate,
    make_delta,
    make_upn,
    school_days,
    upn_check_letter,
)
from steward.ingest.schema import RecordSpec, all_specs

SEED = 7
SCALE = 0.1  # schools a tenth of their size: a primary and a secondary in well under a second

# The codes the generator may use, by code set (the spec names each coded column's set).
ALLOWED: dict[str, set[str]] = {
    "gender": {"M", "F"},
    "ethnicity": {
        "WBRI", "WIRI", "WOTH", "MWBC", "MWBA", "MWAS", "AIND", "APKN", "ABAN", "BCRB", "BAFR", "CHNE", "OOTH", "REFU",
    },
    "religion": {"BUD", "CHR", "HIN", "JEW", "MUS", "SIK", "OTH", "NOR", "REF"},
    "language": {"ENG", "POL", "PNJ", "URD", "BNG", "ARA", "SOM", "RMN"},
    "relationship": {"PAR", "CAR", "FAM", "STP"},
    "contract_type": {"PRM", "FXT", "TMP"},
    "group_type": {"registration", "year", "class", "house", "teaching"},
    "enrolment_status": {"C"},
    "session": {"AM", "PM"},
    "attendance_mark": {"/", "\\", "I", "M", "O", "G", "C", "E", "N", "U", "L"},
    "exclusion_type": {"FIXD", "PERM", "LNCH"},
    "exclusion_reason": {"PA", "PP", "VP", "VA", "BU", "DA", "DM", "TH", "OT"},
    "sen_provision": {"N", "K", "E"},
    "sen_need": {"SPLD", "MLD", "SLD", "SEMH", "SLCN", "HI", "VI", "ASD", "PD", "OTH"},
    "entitlement_type": {"FSM", "PP"},
}  # fmt: skip

Batch = dict[str, list[dict[str, str]]]  # record type -> rows as field-name dicts


def read_zip(path: Path) -> tuple[list[str], dict[str, list[str]], Batch]:
    """(member names, header by type, rows by type)."""
    headers: dict[str, list[str]] = {}
    batch: Batch = {}
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for name in names:
            with archive.open(name) as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                header = next(reader)
                record_type = name.removesuffix(".csv")
                headers[record_type] = header
                batch[record_type] = [dict(zip(header, row, strict=True)) for row in reader]
    return names, headers, batch


@pytest.fixture(scope="module")
def la(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("la")
    manifest = generate(out, schools=2, seed=SEED, formats={"csv"}, year=2025, scale=SCALE)
    return out, manifest


@pytest.fixture(scope="module")
def batches(la: tuple[Path, dict[str, Any]]) -> dict[int, Batch]:
    out, manifest = la
    return {school["urn"]: read_zip(out / f"{school['urn']}.zip")[2] for school in manifest["schools"]}


@pytest.fixture(scope="module")
def specs() -> dict[str, RecordSpec]:
    return {spec.record_type: spec for spec in all_specs()}


def valid_upn(upn: str) -> bool:
    """The DfE check: characters 2-13 weighted 2..13, sum mod 23 indexes the check-letter table."""
    if not re.fullmatch(r"[A-HJ-NP-RT-Z]\d{12}", upn):
        return False
    total = sum(weight * int(ch) for weight, ch in enumerate(upn[1:], start=2))
    return upn[0] == "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23]


# --- determinism ---------------------------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_files(la: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = la
    generate(tmp_path, schools=2, seed=SEED, formats={"csv"}, year=2025, scale=SCALE)
    first = sorted(p.name for p in out.iterdir())
    assert first == sorted(p.name for p in tmp_path.iterdir())
    assert first == ["990001.zip", "990002.zip", "manifest.json"]
    for name in first:
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_other_data(la: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = la
    generate(tmp_path, schools=2, seed=SEED + 1, formats={"csv"}, year=2025, scale=SCALE)
    assert (out / "990001.zip").read_bytes() != (tmp_path / "990001.zip").read_bytes()


def test_parallel_generation_writes_the_same_files(la: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = la
    generate(tmp_path, schools=2, seed=SEED, formats={"csv"}, year=2025, scale=SCALE, jobs=2)
    for name in ("990001.zip", "990002.zip", "manifest.json"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


# --- shape ---------------------------------------------------------------------------------------


def test_the_generator_columns_are_the_spec_columns(specs: dict[str, RecordSpec]) -> None:
    assert {record_type: tuple(spec.names) for record_type, spec in specs.items()} == COLUMNS


def test_every_zip_holds_every_record_type_with_the_spec_header(
    la: tuple[Path, dict[str, Any]], specs: dict[str, RecordSpec]
) -> None:
    out, manifest = la
    for school in manifest["schools"]:
        names, headers, _ = read_zip(out / f"{school['urn']}.zip")
        assert names == [f"{record_type}.csv" for record_type in specs]
        assert headers == {record_type: spec.names for record_type, spec in specs.items()}


def test_a_primary_and_a_secondary_with_rows_of_every_type(la: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = la
    assert [s["phase"] for s in manifest["schools"]] == ["primary", "secondary"]
    secondary = manifest["schools"][1]["rows"]
    assert [t for t, count in secondary.items() if count == 0] == []
    primary = manifest["schools"][0]["rows"]
    empty = {t for t, count in primary.items() if count == 0}
    assert "lesson-attendance" in empty  # lesson marks are only taken in secondaries
    assert empty <= {"lesson-attendance", "exclusions"}  # a tenth-size primary may have had none
    assert primary["school-details"] == secondary["school-details"] == 1


def test_the_manifest_describes_the_files(la: tuple[Path, dict[str, Any]], batches: dict[int, Batch]) -> None:
    out, manifest = la
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert (manifest["la_code"], manifest["seed"], manifest["year"], manifest["formats"]) == (
        "881",
        SEED,
        2025,
        ["csv"],
    )
    for school in manifest["schools"]:
        batch = batches[school["urn"]]
        assert school["files"] == [f"{school['urn']}.zip"]
        assert school["la_code"] == LA_CODE
        assert re.fullmatch(r"\d{4}", school["establishment_number"])
        assert school["rows"] == {record_type: len(rows) for record_type, rows in batch.items()}
        assert school["learners"] == len(batch["learners"])
        assert batch["school-details"][0]["name"] == school["name"]
    totals = manifest["totals"]
    assert totals["schools"] == 2
    assert totals["learners"] == sum(s["learners"] for s in manifest["schools"])
    assert totals["rows"] == sum(sum(s["rows"].values()) for s in manifest["schools"])


def test_full_size_schools_average_about_300_learners() -> None:
    from steward.demo.synthetic import plan_schools

    plans = plan_schools(100, seed=1)
    sizes = {phase: [p.learners for p in plans if p.phase == phase] for phase in ("primary", "secondary")}
    assert len(sizes["secondary"]) == 5
    assert all(180 <= n <= 420 for n in sizes["primary"])
    assert all(900 <= n <= 1300 for n in sizes["secondary"])
    assert 27_000 <= sum(p.learners for p in plans) <= 33_000
    assert len({p.name for p in plans}) == len({p.establishment_number for p in plans}) == len({p.urn for p in plans})


# --- values --------------------------------------------------------------------------------------

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def problems_with_values(batch: Batch, specs: dict[str, RecordSpec]) -> list[str]:
    """Every value that the ingest checks would reject, as "type.field=value: why"."""
    problems = []
    for record_type, rows in batch.items():
        for column in specs[record_type].columns:
            for row in rows:
                value = row[column.name]
                where = f"{record_type}.{column.name}={value!r}"
                if value == "":
                    if column.required:
                        problems.append(f"{where}: required")
                    continue
                if column.max_length is not None and len(value) > column.max_length:
                    problems.append(f"{where}: longer than {column.max_length}")
                kind = column.kind
                if kind == "date":
                    if not DATE.fullmatch(value):
                        problems.append(f"{where}: not YYYY-MM-DD")
                    else:
                        date.fromisoformat(value)
                elif kind == "time" and not TIME.fullmatch(value):
                    problems.append(f"{where}: not HH:MM")
                elif kind == "datetime":
                    if not DATETIME.fullmatch(value) or datetime.fromisoformat(value).utcoffset() is None:
                        problems.append(f"{where}: not ISO 8601 with an offset")
                elif kind == "boolean" and value not in ("true", "false"):
                    problems.append(f"{where}: not true/false")
                elif kind == "integer":
                    if not re.fullmatch(r"-?\d+", value) or not -32768 <= int(value) <= 32767:
                        problems.append(f"{where}: not a smallint")
                    elif column.minimum is not None and int(value) < column.minimum:
                        problems.append(f"{where}: below {column.minimum}")
                elif kind == "decimal":
                    match = re.fullmatch(r"(\d+)\.(\d+)", value)
                    assert column.max_digits is not None and column.decimal_places is not None
                    whole = column.max_digits - column.decimal_places
                    if not match or len(match[1]) > whole or len(match[2]) > column.decimal_places:
                        problems.append(f"{where}: not numeric({column.max_digits},{column.decimal_places})")
                elif kind == "email" and not EMAIL.fullmatch(value):
                    problems.append(f"{where}: not an e-mail address")
                elif kind == "list" and not re.fullmatch(r"[A-Z]+(\|[A-Z]+)*", value):
                    problems.append(f"{where}: not codes joined with |")
                elif kind == "base64":
                    problems.append(f"{where}: the generator sends no photos")
    return problems


def test_values_are_well_formed_for_their_column(batches: dict[int, Batch], specs: dict[str, RecordSpec]) -> None:
    for batch in batches.values():
        assert problems_with_values(batch, specs) == []


def test_code_values_are_in_the_allowed_lists(batches: dict[int, Batch], specs: dict[str, RecordSpec]) -> None:
    coded = [(s.record_type, c) for s in specs.values() for c in s.columns if c.code_set]
    assert {c.code_set for _, c in coded} == set(ALLOWED)
    for batch in batches.values():
        for record_type, column in coded:
            used = {code for row in batch[record_type] if row[column.name] for code in row[column.name].split("|")}
            assert used <= ALLOWED[str(column.code_set)], (
                record_type,
                column.name,
                used - ALLOWED[str(column.code_set)],
            )


def test_references_name_records_in_the_same_zip(batches: dict[int, Batch], specs: dict[str, RecordSpec]) -> None:
    checked = 0
    for batch in batches.values():
        ids = {record_type: {row["source_id"] for row in rows} for record_type, rows in batch.items()}
        for record_type, spec in specs.items():
            for column in spec.columns:
                if column.references:
                    dangling = {row[column.name] for row in batch[record_type]} - ids[column.references]
                    assert dangling == set(), (record_type, column.name, sorted(dangling)[:5])
                    checked += len(batch[record_type])
    assert checked > 50_000


def test_source_ids_are_unique_per_type(batches: dict[int, Batch]) -> None:
    for batch in batches.values():
        for record_type, rows in batch.items():
            counts = Counter(row["source_id"] for row in rows)
            assert [sid for sid, n in counts.items() if n > 1] == [], record_type
        assert [row["source_id"] for row in batch["school-details"]] == ["school"]
        assert batch["learners"][0]["source_id"] == "L000001"


def test_upns_are_valid_dfe_upns_of_the_school(la: tuple[Path, dict[str, Any]], batches: dict[int, Batch]) -> None:
    _, manifest = la
    seen: list[str] = []
    for school in manifest["schools"]:
        for learner in batches[school["urn"]]["learners"]:
            upn = learner["upn"]
            assert valid_upn(upn), upn
            assert upn[1:8] == LA_CODE + school["establishment_number"]
            if learner["former_upn"]:
                assert valid_upn(learner["former_upn"]), learner["former_upn"]
            seen.append(upn)
    assert len(seen) == len(set(seen))


def test_the_upn_check_letter() -> None:
    # 8*2 + 8*3 + 1*4 + 2*5 + 0*6 + 0*7 + 1*8 + 2*9 + 5*10 + 0*11 + 0*12 + 1*13 = 143; 143 mod 23 = 5 -> F
    assert make_upn("881", "2001", 2025, 1) == "F881200125001"
    assert upn_check_letter("881200125001") == "F"
    for serial in range(1, 1000, 37):
        assert valid_upn(make_upn("881", "4123", 2019, serial))
    assert not valid_upn("A881200125001")


def test_personal_details_are_fictional(batches: dict[int, Batch]) -> None:
    phone = re.compile(r"01632 960\d{3}|07700 900\d{3}")
    postcode = re.compile(r"(CM|CO|SS)\d{1,2} \d[ABDEFGHJLNPQRSTUWXYZ]{2}")
    phones = {
        "school-details": ["phone"],
        "learners": ["phone"],
        "contacts": ["phone_home", "phone_mobile", "phone_work"],
    }
    for batch in batches.values():
        for record_type, fields in phones.items():
            for row in batch[record_type]:
                for name in fields:
                    assert row[name] == "" or phone.fullmatch(row[name]), row[name]
        for record_type in ("school-details", "learners", "contacts"):
            for row in batch[record_type]:
                assert postcode.fullmatch(row["postcode"]), row["postcode"]
        emails = [row[c] for rows in batch.values() for row in rows for c in row if "email" in c and row[c]]
        assert emails
        assert all(e.endswith(".invalid") for e in emails), [e for e in emails if not e.endswith(".invalid")]
        assert all(re.fullmatch(r"QQ\d{6}[A-D]", s["ni_number"]) for s in batch["staff"])
        assert all(re.fullmatch(r"\d{7}", s["teacher_number"]) for s in batch["staff"] if s["teacher_number"])
        assert batch["school-details"][0]["website"].endswith(".invalid/")


# --- attendance ----------------------------------------------------------------------------------


def test_the_school_year_has_190_days_without_weekends_or_holidays() -> None:
    days = school_days(2025)
    assert len(days) == 190
    assert (days[0], days[-1]) == (date(2025, 9, 3), date(2026, 7, 15))
    assert all(d.weekday() < 5 for d in days)
    closed = [date(2025, 10, 27) + timedelta(n) for n in range(5)]  # October half-term
    closed += [date(2025, 12, 22) + timedelta(n) for n in range(12)]  # Christmas
    closed += [date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4), date(2026, 5, 25)]  # Good Friday, bank hols
    assert set(days) & set(closed) == set()
    assert len(days) == len(set(days)) and days == sorted(days)


def test_every_learner_has_two_marks_for_each_school_day_on_roll(batches: dict[int, Batch]) -> None:
    days = [d.isoformat() for d in school_days(2025)]
    for batch in batches.values():
        entry = {e["learner_source_id"]: e["entry_date"] for e in batch["school-enrolments"]}
        marks: dict[str, list[tuple[str, str]]] = {}
        for row in batch["session-attendance"]:
            marks.setdefault(row["learner_source_id"], []).append((row["date"], row["session"]))
        for learner in batch["learners"]:
            on_roll = [d for d in days if d >= entry[learner["source_id"]]]
            assert marks[learner["source_id"]] == [(d, s) for d in on_roll for s in ("AM", "PM")]
        full_year = [sid for sid, e in entry.items() if e <= days[0]]
        assert full_year and all(len(marks[sid]) == 380 for sid in full_year)


def test_attendance_marks_are_mostly_present(batches: dict[int, Batch]) -> None:
    rows = [row for batch in batches.values() for row in batch["session-attendance"]]
    present = {"AM": "/", "PM": "\\"}
    absent = [row for row in rows if row["mark"] != present[row["session"]]]
    assert 0.02 < len(absent) / len(rows) < 0.09
    assert all(row["mark"] not in present.values() for row in absent)
    late = [row for row in rows if row["mark"] == "L"]
    assert late and all(1 <= int(row["minutes_late"]) <= 20 for row in late)
    assert all(row["minutes_late"] == "" for row in rows if row["mark"] not in ("L", "U"))


def test_lesson_marks_agree_with_the_session_marks(batches: dict[int, Batch]) -> None:
    for batch in batches.values():
        sessions = {(r["learner_source_id"], r["date"], r["session"]): r["mark"] for r in batch["session-attendance"]}
        groups = {g["source_id"]: g["group_type"] for g in batch["groups"]}
        for lesson in batch["lesson-attendance"]:
            assert groups[lesson["group_source_id"]] == "class"
            session = "AM" if lesson["start_time"] < "12:30" else "PM"
            mark = sessions[lesson["learner_source_id"], lesson["lesson_date"], session]
            assert lesson["mark"] == mark or (lesson["mark"] == "/" and mark in ("/", "\\", "L", "U"))


# --- CTF ------------------------------------------------------------------------------------------


def test_ctf_files_read_back_with_the_same_learners_and_marks(tmp_path: Path) -> None:
    ctf = pytest.importorskip("steward.ingest.ctf")
    manifest = generate(tmp_path / "a", schools=2, seed=SEED, formats={"csv", "ctf"}, year=2025, scale=SCALE)
    generate(tmp_path / "b", schools=2, seed=SEED, formats={"ctf"}, year=2025, scale=SCALE)
    assert manifest["formats"] == ["csv", "ctf"]
    for school in manifest["schools"]:
        urn = school["urn"]
        assert school["files"] == [f"{urn}.zip", f"{urn}.ctf.xml"]
        data = (tmp_path / "a" / f"{urn}.ctf.xml").read_bytes()
        assert data == (tmp_path / "b" / f"{urn}.ctf.xml").read_bytes()
        content = ctf.parse_ctf(data)
        assert (content.source_school.urn, content.source_school.establishment_number) == (
            urn,
            school["establishment_number"],
        )
        rows = {record_type: [values for _, values in items] for record_type, items in content.rows.items()}
        _, _, batch = read_zip(tmp_path / "a" / f"{urn}.zip")
        assert sorted(r["upn"] for r in rows["learners"]) == sorted(r["upn"] for r in batch["learners"])
        assert Counter(r["mark"] for r in rows["session-attendance"]) == Counter(
            r["mark"] for r in batch["session-attendance"]
        )


# --- deltas --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5])
def test_make_delta_changes_round_fraction_of_each_type_in_one_non_key_field(
    la: tuple[Path, dict[str, Any]], specs: dict[str, RecordSpec], tmp_path: Path, fraction: float
) -> None:
    out, _ = la
    source = out / "990002.zip"
    delta = tmp_path / "delta.zip"
    changed = make_delta(source, delta, fraction=fraction, seed=3)
    names, _, before = read_zip(source)
    delta_names, _, after = read_zip(delta)
    assert delta_names == names
    total = 0
    for record_type, rows in before.items():
        new_rows = after[record_type]
        assert [r["source_id"] for r in new_rows] == [r["source_id"] for r in rows]
        differing = [(old, new) for old, new in zip(rows, new_rows, strict=True) if old != new]
        assert len(differing) == round(fraction * len(rows)), record_type
        keys = {"source_id"} | {c.name for c in specs[record_type].columns if c.references}
        field_name = DELTA_FIELDS[record_type][0]
        assert field_name not in keys
        for old, new in differing:
            assert [k for k in old if old[k] != new[k]] == [field_name]
        total += len(differing)
    assert changed == total
    assert problems_with_values(after, specs) == []


def test_make_delta_is_deterministic(la: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = la
    make_delta(out / "990001.zip", tmp_path / "a.zip", fraction=0.01, seed=1)
    make_delta(out / "990001.zip", tmp_path / "b.zip", fraction=0.01, seed=1)
    make_delta(out / "990001.zip", tmp_path / "c.zip", fraction=0.01, seed=2)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "c.zip").read_bytes()


def test_make_delta_rejects_a_fraction_outside_0_to_1(la: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = la
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_delta(out / "990001.zip", tmp_path / "x.zip", fraction=1.5, seed=1)


def test_unknown_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        generate(tmp_path, schools=1, seed=1, formats={"xlsx"}, year=2025)
