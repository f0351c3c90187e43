"""Attendance as the Department for Education counts it: which session marks are attendance, which
are absence and which are no possible session at all, and a learner's figures for a school year.

The percentage is sessions attended (present, or at an approved educational activity) over possible
sessions. The marks are those of `codesets.ATTENDANCE_MARK`; the classes below sort every one of
them, and `tests/mis/test_attendance.py` fails if a code set entry is left unsorted. Two marks that
read like attendance are not: `D` (attending another school where the pupil is dual registered) is
counted there, so it is no possible session here, like `X`, `Z`, `#` and the exceptional-circumstance
`Y` codes (the MIS suppliers' statutory reports treat them so); `J` (interview, before August 2024)
was a leave of absence, as its successor `J1` is.

The figures are computed in PostgreSQL, one statement per learner and year, so a page costs the
same whether the year holds ten marks or four hundred.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from steward.mis.codesets import ATTENDANCE_MARK

# Present at the school (/ \ L) or attending an approved educational activity (K V P W B).
ATTENDED_MARKS = frozenset({"/", "\\", "L", "K", "V", "P", "W", "B"})
# No possible session: not required, not on roll, school closed, counted at another school, or
# unable to attend because of exceptional circumstances.
NOT_POSSIBLE_MARKS = frozenset({"D", "X", "Z", "#", "Y", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7"})
# Every other mark of the code set is an absence, authorised or not.
ABSENCE_MARKS = frozenset(ATTENDANCE_MARK) - ATTENDED_MARKS - NOT_POSSIBLE_MARKS
# Late: before the register closed (attended) and after it (an unauthorised absence).
LATE_MARKS = frozenset({"L", "U"})


def school_year_start(day: dt.date) -> dt.date:
    """1 September of the English school year `day` falls in (a year runs 1 September to 31 August)."""
    return dt.date(day.year if day.month >= 9 else day.year - 1, 9, 1)


@dataclass(frozen=True)
class Mark:
    date: dt.date
    session: str
    mark: str
    minutes_late: int | None


@dataclass(frozen=True)
class MonthFigures:
    """One month's sessions: possible, attended, and the percentage (None when none was possible)."""

    month: dt.date  # the first of the month
    possible: int
    attended: int
    percentage: Decimal | None


@dataclass(frozen=True)
class YearFigures:
    """A learner's attendance over one school year, with the same figures month by month."""

    start: dt.date  # 1 September
    possible: int
    attended: int
    percentage: Decimal | None  # one decimal place, as the DfE publishes it
    late: int
    minutes_late: int
    months: tuple[MonthFigures, ...]  # only months that hold a mark, oldest first
    marks: tuple[Mark, ...] = ()  # every mark, oldest first, when asked for (`with_marks`)

    @property
    def recorded(self) -> bool:
        return bool(self.months)


# GROUPING SETS gives the year's total and each month's figures from one scan of the learner's marks
# (the index leads with school, learner and date); the total's row can carry the marks themselves,
# so a page that lists them needs no second query.
_MARKS = """CASE WHEN GROUPING(date_trunc('month', a.date)) = 1
            THEN json_agg(json_build_array(a.date, a.session, a.mark, a.minutes_late) ORDER BY a.date, a.session)
       END"""
_YEAR_SQL = """
SELECT date_trunc('month', a.date)::date AS month,
       count(*) FILTER (WHERE NOT a.mark = ANY(%(not_possible)s)) AS possible,
       count(*) FILTER (WHERE a.mark = ANY(%(attended)s)) AS attended,
       round(100.0 * count(*) FILTER (WHERE a.mark = ANY(%(attended)s))
             / NULLIF(count(*) FILTER (WHERE NOT a.mark = ANY(%(not_possible)s)), 0), 1) AS percentage,
       count(*) FILTER (WHERE a.mark = ANY(%(late)s)) AS late,
       coalesce(sum(a.minutes_late), 0) AS minutes_late,
       {marks} AS marks
  FROM mis_sessionattendance a
 WHERE a.school_id = %(school)s AND a.learner_source_id = %(learner)s
   AND a.date >= %(start)s AND a.date < %(end)s
 GROUP BY GROUPING SETS ((date_trunc('month', a.date)), ())
 ORDER BY month NULLS FIRST
"""


def year_figures(*, school_id: int, learner_source_id: str, start: dt.date, with_marks: bool = False) -> YearFigures:
    """The learner's figures for the school year beginning `start` (1 September), and with `with_marks`
    the marks too. One query; call it inside the school's tenant scope (row-level security reads the
    same school)."""
    params: dict[str, Any] = {
        "school": school_id,
        "learner": learner_source_id,
        "start": start,
        "end": start.replace(year=start.year + 1),
        "attended": sorted(ATTENDED_MARKS),
        "not_possible": sorted(NOT_POSSIBLE_MARKS),
        "late": sorted(LATE_MARKS),
    }
    with connection.cursor() as cursor:
        cursor.execute(_YEAR_SQL.format(marks=_MARKS if with_marks else "NULL"), params)
        rows = cursor.fetchall()
    total = rows[0]  # the empty grouping set: one row even when there is no mark
    months = tuple(MonthFigures(month, possible, attended, pct) for month, possible, attended, pct, *_ in rows[1:])
    marks = tuple(Mark(dt.date.fromisoformat(d), session, mark, late) for d, session, mark, late in total[6] or ())
    return YearFigures(
        start=start,
        possible=total[1],
        attended=total[2],
        percentage=total[3],
        late=total[4],
        minutes_late=total[5],
        months=months,
        marks=marks,
    )
