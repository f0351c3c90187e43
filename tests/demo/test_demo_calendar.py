"""The demo's MIS data is the school as it stands on the day `steward demo` runs.

The generator is given each `today` here (or time-machine sets the clock), so these tests read the
same on any day: attendance on school days of last school year and this one up to yesterday, none
to come, and homework and diary around the day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from steward.demo.synthetic import generate, school_days

Batch = dict[str, list[dict[str, str]]]


def generated(out: Path, today: dt.date | None = None) -> tuple[dict[str, Any], list[Batch]]:
    manifest = generate(out, schools=2, seed=3, formats={"csv"}, today=today, scale=0.1)
    batches = []
    for school in manifest["schools"]:
        with zipfile.ZipFile(out / f"{school['urn']}.zip") as archive:
            batches.append(
                {
                    name.removesuffix(".csv"): list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8")))
                    for name in archive.namelist()
                }
            )
    return manifest, batches


def days_of(batches: list[Batch], record_type: str, field: str) -> set[dt.date]:
    return {dt.date.fromisoformat(row[field][:10]) for batch in batches for row in batch[record_type]}


@pytest.mark.parametrize(
    ("today", "school_year", "this_years_first_marks"),
    [
        (dt.date(2026, 11, 30), 2026, dt.date(2026, 9, 2)),  # a Monday in the autumn term
        (dt.date(2027, 9, 10), 2027, dt.date(2027, 9, 8)),  # the Friday of the first week of the year
        (dt.date(2027, 9, 2), 2027, None),  # after the turn of the year, before its term begins
        (dt.date(2028, 2, 29), 2027, dt.date(2027, 9, 8)),  # a leap day
        (dt.date(2027, 5, 31), 2026, dt.date(2026, 9, 2)),  # the late-May bank holiday
    ],
)
def test_attendance_is_last_years_and_this_years_school_days_up_to_yesterday(
    tmp_path: Path, today: dt.date, school_year: int, this_years_first_marks: dt.date | None
) -> None:
    manifest, batches = generated(tmp_path, today)

    marked = days_of(batches, "session-attendance", "date")
    expected = {d for d in (*school_days(school_year - 1), *school_days(school_year)) if d < today}
    assert marked == expected
    assert all(d.weekday() < 5 for d in marked)
    assert max(marked) < today
    this_year = sorted(d for d in marked if d >= dt.date(school_year, 9, 1))
    assert (this_year[0] if this_year else None) == this_years_first_marks
    assert (manifest["as_at"], manifest["year"], manifest["school_days"]) == (
        today.isoformat(),
        school_year,
        len(expected),
    )
    lessons = days_of(batches, "lesson-attendance", "lesson_date")
    assert lessons and max(lessons) < today and lessons <= marked


def test_homework_is_set_in_the_last_days_before_today_and_some_is_due_after_it(tmp_path: Path) -> None:
    today = dt.date(2026, 11, 30)
    _, batches = generated(tmp_path, today)

    homework = [row for batch in batches for row in batch["homework"]]
    set_on = {dt.date.fromisoformat(row["set_date"]) for row in homework}
    assert max(set_on) < today and min(set_on) >= dt.date(2026, 9, 1)  # this school year's, none set yet to come
    due_after = [row for row in homework if row["due_date"] >= today.isoformat()]
    assert due_after and all(row["set_date"] >= "2026-11-20" for row in due_after)


def test_the_diary_has_events_in_the_weeks_ahead_in_term_and_in_the_summer_holiday(tmp_path: Path) -> None:
    for today in (dt.date(2026, 11, 30), dt.date(2027, 8, 15), dt.date(2027, 9, 2)):
        _, batches = generated(tmp_path / today.isoformat(), today)
        events = days_of(batches, "diary-events", "starts_at")
        assert any(today <= day <= today + dt.timedelta(days=31) for day in events), today


def test_the_enrolments_of_a_year_not_begun_start_when_its_term_does(tmp_path: Path) -> None:
    _, batches = generated(tmp_path, dt.date(2027, 9, 2))

    entries = {row["entry_date"] for batch in batches for row in batch["school-enrolments"]}
    assert max(entries) == "2027-09-08"  # Reception and Year 7 join on the first day of term
    assert not [row for batch in batches for row in batch["homework"]]  # no homework before term


@time_machine.travel(dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC), tick=False)
def test_without_a_day_the_data_is_as_at_today_in_england(tmp_path: Path) -> None:
    manifest, _ = generated(tmp_path)

    assert manifest["as_at"] == "2026-11-29"  # 23:30 UTC is still 29 November in London in winter


def test_a_whole_year_and_a_day_to_be_as_at_are_not_both_given(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        generate(tmp_path, schools=1, seed=1, year=2025, today=dt.date(2026, 11, 30))


@pytest.mark.dates
def test_the_data_as_at_today_marks_only_school_days_before_it(tmp_path: Path) -> None:
    """On the day the tests run (`make test-dates`: weekends, the turn of the year, bank holidays)."""
    today = dt.datetime.now(ZoneInfo("Europe/London")).date()
    manifest, batches = generated(tmp_path)

    marked = days_of(batches, "session-attendance", "date")
    year = today.year if today.month >= 9 else today.year - 1
    assert marked == {d for d in (*school_days(year - 1), *school_days(year)) if d < today}
    assert manifest["as_at"] == today.isoformat()
    assert all(d.weekday() < 5 and d < today for d in marked)
