"""Academic sessions: the English school year of a given day and its three terms.

The MIS feed carries no term dates, so Steward derives them rather than inventing a source: the
school year runs 1 September to 31 August; the autumn term is September to December, the spring
term 1 January to 14 April, the summer term 15 April to 31 August (Easter moves; platforms use
terms to label classes, not to enforce dates). Only the year containing `today` is emitted, so a
platform sees the year it teaches in. Sessions are the same for every school of a recipient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    key: str  # stable within Steward, e.g. "2026-2027" or "2026-2027-autumn"
    title: str
    type: str  # OneRoster sessionType: schoolYear or term
    start: dt.date
    end: dt.date
    school_year: int  # OneRoster's schoolYear: the calendar year the school year ends in
    parent: str | None


def school_year_of(today: dt.date) -> int:
    """The calendar year the school year containing `today` starts in."""
    return today.year if today.month >= 9 else today.year - 1


def sessions_for(today: dt.date) -> list[Session]:
    start = school_year_of(today)
    year = f"{start}-{start + 1}"
    ends = start + 1
    terms = [
        ("autumn", "Autumn term", dt.date(start, 9, 1), dt.date(start, 12, 31)),
        ("spring", "Spring term", dt.date(ends, 1, 1), dt.date(ends, 4, 14)),
        ("summer", "Summer term", dt.date(ends, 4, 15), dt.date(ends, 8, 31)),
    ]
    return [
        Session(year, f"School year {year}", "schoolYear", dt.date(start, 9, 1), dt.date(ends, 8, 31), ends, None),
        *(Session(f"{year}-{k}", f"{title} {year}", "term", s, e, ends, year) for k, title, s, e in terms),
    ]
