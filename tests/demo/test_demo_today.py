"""The loaded demo is always "this school year": on any day `steward demo` runs, its schools hold
last school year's attendance in full and this one's up to yesterday, none to come, none at a
weekend, and a diary with events in the weeks ahead.

The demo's own pieces run here under time-machine: `loader.load_demo` (its contracts must be in
force that day), the demo's batches (`mis.demo_batches`, the files its agents send) and the real
ingest, in process (the agents' HTTP hop changes nothing about dates and is covered by
test_demo.py). The expected last marks are worked out by hand from the calendar, not by the
generator's code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from steward.demo import loader
from steward.demo.mis import demo_batches
from steward.ingest.services import batch_ingest
from steward.mis.models import DiaryEvent, SessionAttendance
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import tenant_scope

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
SCHOOL_DAYS_A_YEAR = 190  # the English school year's pupil days


def load_on(
    today: dt.date | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, schools_with_data: int = 3
) -> list[Organisation]:
    """The demo's organisations and MIS data as `steward demo` would load them on `today` (None:
    the session's today, which `make test-dates` moves); the MIS data of the first
    `schools_with_data` schools only (one calendar serves them all: fewer is quicker)."""
    monkeypatch.setattr(loader, "CREDENTIALS_PATH", tmp_path / "demo-credentials.json")
    travel = time_machine.travel(dt.datetime.combine(today, dt.time(12), LONDON), tick=True) if today else None
    if travel:
        travel.start()
    try:
        loader.load_demo()
        schools = [Organisation.objects.get(urn=spec.urn) for spec in loader.SCHOOLS[:schools_with_data]]
        for school, batch in zip(schools, demo_batches(schools, tmp_path / "batches"), strict=True):
            with batch.open("rb") as stream:
                batch_ingest(school=school, stream=stream, format="csv-zip", mode="full", sent_by="demo test")
    finally:
        if travel:
            travel.stop()
    return schools


def marked_days(school: Organisation) -> set[dt.date]:
    with tenant_scope([school.id]):
        return set(SessionAttendance.objects.values_list("date", flat=True).distinct())


def school_year_of(day: dt.date) -> int:
    return day.year if day.month >= 9 else day.year - 1


def check_this_school_year(schools: list[Organisation], today: dt.date) -> dict[str, set[dt.date]]:
    """What holds on every day; returns each school's marked days for the caller's own checks."""
    year = school_year_of(today)
    marked_by_school = {}
    for school in schools:
        marked = marked_days(school)
        assert marked, school.name
        assert max(marked) < today, f"{school.name} has marks for {max(marked)}, on or after {today}"
        assert not [d for d in marked if d.weekday() >= 5], f"{school.name} has weekend marks"
        last_year = {d for d in marked if dt.date(year - 1, 9, 1) <= d <= dt.date(year, 8, 31)}
        assert len(last_year) == SCHOOL_DAYS_A_YEAR, f"{school.name}: last school year has {len(last_year)} days"
        assert min(last_year) <= dt.date(year - 1, 9, 8) and max(last_year) >= dt.date(year, 7, 10)
        assert min(marked) == min(last_year)  # nothing older than last school year
        with tenant_scope([school.id]):
            contract = Contract.objects.get(school=school)
            starts = list(DiaryEvent.objects.values_list("starts_at", flat=True))
        assert contract.start_date <= today <= contract.end_date
        ahead = [s for s in starts if today <= s.astimezone(LONDON).date() <= today + dt.timedelta(days=40)]
        assert ahead, f"{school.name}'s diary has nothing in the 40 days from {today}"
        marked_by_school[school.name] = marked
    return marked_by_school


@pytest.mark.parametrize(
    ("today", "last_mark", "this_year_begun"),
    [
        # A Saturday in the autumn term: Friday's registers are the last taken.
        (dt.date(2026, 12, 5), dt.date(2026, 12, 4), True),
        # 31 August: still the 2025-26 school year, which ended in July.
        (dt.date(2026, 8, 31), None, True),
        # 1 September: the 2026-27 school year has begun, its term (Wednesday 2 September) not yet.
        (dt.date(2026, 9, 1), None, False),
        # A Wednesday in July, after the first demo's contracts would have ended (March 2029).
        (dt.date(2029, 7, 11), dt.date(2029, 7, 10), True),
        # Christmas Day: the autumn term ended on Friday 18 December.
        (dt.date(2026, 12, 25), dt.date(2026, 12, 18), True),
    ],
)
def test_the_loaded_demo_holds_this_school_year_up_to_yesterday_and_last_year_whole(
    today: dt.date,
    last_mark: dt.date | None,
    this_year_begun: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schools = load_on(today, tmp_path, monkeypatch, schools_with_data=1)

    marked = check_this_school_year(schools, today)
    year = school_year_of(today)
    for name, days in marked.items():
        this_year = {d for d in days if d >= dt.date(year, 9, 1)}
        assert bool(this_year) == this_year_begun, name
        if last_mark is not None:
            assert max(days) == last_mark, name
        if today.month == 8:  # the summer holiday: all of this school year is there
            assert len(this_year) == SCHOOL_DAYS_A_YEAR and max(days) < dt.date(today.year, 8, 1), name


@pytest.mark.dates
def test_on_the_day_the_tests_run_the_loaded_demo_is_this_school_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make test-dates` runs this as if on weekends, bank holidays and the turn of the year."""
    schools = load_on(None, tmp_path, monkeypatch, schools_with_data=1)

    check_this_school_year(schools, dt.datetime.now(LONDON).date())
