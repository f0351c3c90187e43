"""When the agent runs: "nightly HH:MM", "weekly <day> HH:MM" or "every N{s,m,h}".

Times are wall-clock times in the school's time zone (Europe/London by default), because
that is how the MIS export job is configured. Around clock changes the rule is the one cron
users expect: a time that does not exist (spring forward) runs at the same instant as it
would have before the change, one hour later by the new clock; a time that occurs twice
(fall back) runs once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class ScheduleError(ValueError):
    """The schedule text cannot be understood; the message says what was expected."""


@dataclass(frozen=True)
class Nightly:
    at: dt.time


@dataclass(frozen=True)
class Weekly:
    weekday: int  # Monday is 0, as datetime.weekday()
    at: dt.time


@dataclass(frozen=True)
class Every:
    interval: dt.timedelta


Schedule = Nightly | Weekly | Every


def _clock(text: str) -> dt.time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(f"{text!r} is not a time of day (HH:MM, 24-hour clock)")
    return dt.time(int(match[1]), int(match[2]))


def _weekday(text: str) -> int:
    name = text.lower()
    for index, day in enumerate(WEEKDAYS):
        if name == day or (len(name) >= 3 and day.startswith(name)):
            return index
    raise ScheduleError(f"{text!r} is not a day of the week (monday .. sunday)")


def parse_schedule(text: str) -> Schedule:
    """Parse the `schedule` setting; raise ScheduleError naming what was wrong."""
    words = text.split()
    kind = words[0].lower() if words else ""
    if kind in ("nightly", "daily") and len(words) == 2:
        return Nightly(_clock(words[1]))
    if kind == "weekly" and len(words) == 3:
        return Weekly(_weekday(words[1]), _clock(words[2]))
    if kind == "every" and len(words) == 2:
        match = re.fullmatch(r"(\d+)([smh])", words[1].lower())
        if not match or int(match[1]) == 0:
            raise ScheduleError(f"{words[1]!r} is not a positive interval such as 30s, 15m or 2h")
        return Every(dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]]))
    raise ScheduleError(
        f"{text!r} is not a schedule; expected 'nightly HH:MM', 'weekly <day> HH:MM' or 'every N[s|m|h]'"
    )


def _wall_time(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant (in UTC) at which the local clock shows `at` on `day` (see module docstring)."""
    # fold=0 picks the first of a repeated time, and for a missing time zoneinfo applies the
    # offset in force before the gap: both are what the module docstring promises.
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_run(schedule: Schedule, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first scheduled instant strictly after `after` (an aware datetime), in UTC.

    Comparisons are made in UTC: Python compares two datetimes in the same zone by their wall
    clocks, which would make the repeated hour of a fall-back night look like the same time.
    """
    if after.tzinfo is None:
        raise ValueError("next_run needs an aware datetime")
    after_utc = after.astimezone(UTC)
    if isinstance(schedule, Every):
        return after_utc + schedule.interval
    local_day = after_utc.astimezone(zone).date()
    for offset in range(0, 9):
        day = local_day + dt.timedelta(days=offset)
        if isinstance(schedule, Weekly) and day.weekday() != schedule.weekday:
            continue
        candidate = _wall_time(day, schedule.at, zone)
        if candidate > after_utc:
            return candidate
    raise AssertionError("unreachable: a week always contains the scheduled day")  # pragma: no cover


def describe(schedule: Schedule) -> str:
    """For log lines: the schedule as the operator wrote it."""
    if isinstance(schedule, Every):
        return f"every {int(schedule.interval.total_seconds())}s"
    if isinstance(schedule, Weekly):
        return f"weekly {WEEKDAYS[schedule.weekday]} {schedule.at:%H:%M}"
    return f"nightly {schedule.at:%H:%M}"
