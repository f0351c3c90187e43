"""The processor's working calendar and the service levels measured on it.

Service levels are promised in working hours: weekdays 08:00-18:00 in Europe/London, not on the
bank holidays of England and Wales (shipped as data in `bank_holidays_england_and_wales.txt`, so a
new year is a one-line change with no migration). `due_after` is a pure function of its arguments:
the clock changes are handled by doing the arithmetic in local wall-clock time and converting back,
so a working day is ten hours long in March and October too.

School holidays are optional: an ICT service whose service levels stop in the schools' holidays
points `STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS` at a file of date ranges (`2026-12-21 2027-01-01
Christmas`, first and last day inclusive), usually the local authority's published term dates; those
days then count as days off like bank holidays. Unset (the default), only bank holidays and weekends do.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings

LONDON = ZoneInfo("Europe/London")
DAY_START = dt.time(8, 0)
DAY_END = dt.time(18, 0)
_DATA = Path(__file__).with_name("bank_holidays_england_and_wales.txt")


@cache
def bank_holidays() -> frozenset[dt.date]:
    """The shipped bank holidays (comments and blank lines skipped)."""
    days = set()
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            days.add(dt.date.fromisoformat(line.split()[0]))
    return frozenset(days)


@cache
def _school_holidays(path: str) -> frozenset[dt.date]:
    days: set[dt.date] = set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            first, last = (dt.date.fromisoformat(part) for part in line.split()[:2])
        except ValueError as bad:
            raise ValueError(f"{path}, line {number}: expected 'YYYY-MM-DD YYYY-MM-DD name', got {line!r}") from bad
        if last < first or (last - first).days > 366:
            raise ValueError(f"{path}, line {number}: the last day must be on or after the first, within a year")
        days.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(days)


def school_holidays() -> frozenset[dt.date]:
    """The configured school holidays, or none."""
    path = getattr(settings, "STEWARD_SERVICE_DESK_SCHOOL_HOLIDAYS", "")
    return _school_holidays(path) if path else frozenset()


def days_off() -> frozenset[dt.date]:
    """Every day that is not a working day besides weekends: bank holidays and any school holidays."""
    return bank_holidays() | school_holidays()


def covered_years() -> tuple[int, int]:
    """The first and last year the data file covers; outside them only weekends are known."""
    years = sorted({d.year for d in bank_holidays()})
    return years[0], years[-1]


def is_working_day(day: dt.date, holidays: frozenset[dt.date] | None = None) -> bool:
    return day.weekday() < 5 and day not in (days_off() if holidays is None else holidays)


def due_after(start: dt.datetime, working_minutes: int, *, holidays: frozenset[dt.date] | None = None) -> dt.datetime:
    """The instant `working_minutes` of working time after `start` (an aware datetime), in UTC.

    A start outside working hours counts from the next working day's 08:00; a target that ends
    exactly at 18:00 is due at 18:00 that day (not 08:00 the next).
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if working_minutes < 0:
        raise ValueError("working_minutes must not be negative")
    off = days_off() if holidays is None else holidays
    local = start.astimezone(LONDON).replace(tzinfo=None)  # wall-clock time
    day, clock = local.date(), local.time()
    if not is_working_day(day, off) or clock >= DAY_END:
        day, clock = _next_working_day(day, off), DAY_START
    elif clock < DAY_START:
        clock = DAY_START
    left = dt.timedelta(minutes=working_minutes)
    while True:
        at = dt.datetime.combine(day, clock)
        room = dt.datetime.combine(day, DAY_END) - at
        if left <= room:
            return (at + left).replace(tzinfo=LONDON).astimezone(dt.UTC)
        left -= room
        day, clock = _next_working_day(day, off), DAY_START


def _next_working_day(day: dt.date, holidays: frozenset[dt.date]) -> dt.date:
    day += dt.timedelta(days=1)
    while not is_working_day(day, holidays):
        day += dt.timedelta(days=1)
    return day


# Working hours per (urgency, category): first response, resolution. Privacy requests and a broken
# MIS feed are answered sooner at every urgency: they carry statutory or daily consequences.
_HOURS = {
    "critical": (1, 8),
    "high": (2, 20),
    "normal": (8, 50),
    "low": (20, 100),
}
_FASTER = {"privacy", "mis_feed"}


def targets(*, category: str, urgency: str) -> tuple[int, int]:
    """(first response, resolution) in working minutes for a ticket of this category and urgency."""
    first, resolution = _HOURS[urgency]
    if category in _FASTER and urgency in ("normal", "low"):
        first, resolution = max(1, first // 2), resolution * 4 // 5
    return first * 60, resolution * 60


def service_level_table() -> list[tuple[str, str, int, int]]:
    """Every (category, urgency, first response hours, resolution hours): printed on the queue page."""
    from steward.servicedesk.models import Category, Urgency

    return [
        (
            c.label,
            u.label,
            targets(category=c.value, urgency=u.value)[0] // 60,
            targets(category=c.value, urgency=u.value)[1] // 60,
        )
        for c in Category
        for u in Urgency
    ]
