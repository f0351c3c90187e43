"""The working calendar: due instants in working hours across evenings, weekends, bank holidays,
Christmas and the clocks changing. Pure functions on explicit datetimes: no clock, no database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test import override_settings

from steward.servicedesk.calendar import (
    LONDON,
    _school_holidays,
    bank_holidays,
    covered_years,
    due_after,
    targets,
)


def london(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=LONDON)  # type: ignore[misc]


def test_the_shipped_data_holds_every_bank_holiday_of_2025_to_2028_with_substitute_days() -> None:
    days = bank_holidays()
    assert covered_years() == (2025, 2028)
    assert len(days) == 32  # eight a year
    assert dt.date(2026, 12, 28) in days and dt.date(2026, 12, 26) not in days  # Boxing Day on a Saturday
    assert {dt.date(2027, 12, 27), dt.date(2027, 12, 28)} <= days  # Christmas on a Saturday, Boxing Day a Sunday
    assert dt.date(2028, 1, 3) in days  # New Year's Day on a Saturday
    assert all(d.weekday() < 5 for d in days)  # a substitute day is always a weekday


def test_within_one_working_day() -> None:
    assert due_after(london(2026, 11, 30, 9, 0), 120) == london(2026, 11, 30, 11, 0)


def test_ending_exactly_at_close_of_day_is_due_at_18_00_not_the_next_morning() -> None:
    assert due_after(london(2026, 11, 30, 8, 0), 600) == london(2026, 11, 30, 18, 0)


def test_an_evening_start_counts_from_the_next_morning() -> None:
    assert due_after(london(2026, 12, 1, 19, 30), 60) == london(2026, 12, 2, 9, 0)
    assert due_after(london(2026, 12, 2, 6, 0), 60) == london(2026, 12, 2, 9, 0)


def test_friday_afternoon_runs_over_the_weekend() -> None:
    # Friday 27 November 2026, 17:00: one hour left on Friday, three more on Monday.
    assert due_after(london(2026, 11, 27, 17, 0), 240) == london(2026, 11, 30, 11, 0)
    # Raised on Saturday: counted from Monday 08:00.
    assert due_after(london(2026, 11, 28, 10, 0), 30) == london(2026, 11, 30, 8, 30)


def test_christmas_and_the_substitute_boxing_day_are_skipped() -> None:
    # Thursday 24 December 2026, 17:00; Friday 25th Christmas, weekend, Monday 28th the substitute day.
    assert due_after(london(2026, 12, 24, 17, 0), 120) == london(2026, 12, 29, 9, 0)


def test_easter_is_skipped() -> None:
    # Thursday 2 April 2026, 16:00; Good Friday 3rd, weekend, Easter Monday 6th.
    assert due_after(london(2026, 4, 2, 16, 0), 180) == london(2026, 4, 7, 9, 0)


def test_the_clocks_going_forward_and_back_keep_a_ten_hour_working_day() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday 17:00 GMT, due Monday 09:00 BST (08:00 UTC).
    due = due_after(london(2026, 3, 27, 17, 0), 120)
    assert due == london(2026, 3, 30, 9, 0)
    assert due == dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC)
    # Clocks go back on Sunday 25 October 2026: Friday 17:00 BST (16:00 UTC), due Monday 09:00 GMT.
    due = due_after(london(2026, 10, 23, 17, 0), 120)
    assert due == dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC)


def test_a_start_in_utc_is_read_as_london_time() -> None:
    # 07:30 UTC on 1 July is 08:30 in London (BST): half an hour already gone.
    assert due_after(dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.UTC), 60) == london(2026, 7, 1, 9, 30)


def test_several_days_of_working_time() -> None:
    # 50 working hours from Monday 08:00 is Friday 18:00.
    assert due_after(london(2026, 11, 30, 8, 0), 50 * 60) == london(2026, 12, 4, 18, 0)


def test_a_naive_start_or_negative_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_after(dt.datetime(2026, 11, 30, 9, 0), 60)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="negative"):
        due_after(london(2026, 11, 30, 9, 0), -1)


def test_targets_are_faster_for_higher_urgency_and_for_privacy_requests() -> None:
    assert targets(category="other", urgency="critical") < targets(category="other", urgency="normal")
    assert targets(category="privacy", urgency="normal") < targets(category="other", urgency="normal")
    assert targets(category="other", urgency="normal") == (8 * 60, 50 * 60)


def test_school_holidays_stop_the_clock_only_when_configured(tmp_path: Path) -> None:
    # Friday 18 December 2026, 17:00, the last day of the autumn term (the turn of the calendar year
    # falls inside the holiday): without school holidays, Christmas and the bank holidays are skipped.
    start = london(2026, 12, 18, 17, 0)
    assert due_after(start, 120) == london(2026, 12, 21, 9, 0)
    term_dates = tmp_path / "holidays.txt"
    term_dates.write_text("# Alderley LA term dates\n2026-12-21 2027-01-01 Christmas holiday\n", encoding="utf-8")
    with override_settings(STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS=str(term_dates)):
        # The holiday runs to Friday 1 January 2027; the clock restarts on Monday 4 January.
        assert due_after(start, 120) == london(2027, 1, 4, 9, 0)
    term_dates.write_text("2027-01-04 2026-12-21 backwards\n", encoding="utf-8")
    _school_holidays.cache_clear()
    with (
        override_settings(STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS=str(term_dates)),
        pytest.raises(ValueError, match=r"holidays\.txt, line 1: the last day must be on or after the first"),
    ):
        due_after(start, 120)
    _school_holidays.cache_clear()
