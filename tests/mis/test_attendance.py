"""The attendance rule (`mis.attendance`): every mark of the code set is sorted into attended, absent
or no possible session, and a year's figures come from one query that holds up with no mark at all."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from steward.mis.attendance import (
    ABSENCE_MARKS,
    ATTENDED_MARKS,
    NOT_POSSIBLE_MARKS,
    school_year_start,
    year_figures,
)
from steward.mis.codesets import ATTENDANCE_MARK
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.portal import families as f


def test_every_mark_of_the_code_set_is_sorted_once() -> None:
    classes = [ATTENDED_MARKS, NOT_POSSIBLE_MARKS, ABSENCE_MARKS]
    assert set().union(*classes) == set(ATTENDANCE_MARK)
    assert sum(len(c) for c in classes) == len(ATTENDANCE_MARK)


def test_dual_registration_and_interviews_are_not_attendance() -> None:
    """D is counted at the other school; J, like J1, was a leave of absence for an interview."""
    assert "D" in NOT_POSSIBLE_MARKS
    assert {"J", "J1"} <= ABSENCE_MARKS
    assert {"/", "\\", "L", "K", "V", "P", "W", "B"} == ATTENDED_MARKS
    assert "U" in ABSENCE_MARKS  # late after the register closed


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (dt.date(2026, 8, 31), dt.date(2025, 9, 1)),
        (dt.date(2026, 9, 1), dt.date(2026, 9, 1)),
        (dt.date(2028, 2, 29), dt.date(2027, 9, 1)),
        (dt.date(2026, 1, 1), dt.date(2025, 9, 1)),
    ],
)
def test_the_school_year_starts_on_1_september(day: dt.date, start: dt.date) -> None:
    assert school_year_start(day) == start


@pytest.mark.django_db
def test_a_years_figures_in_one_query_with_and_without_marks() -> None:
    school = factories.school("Ash Primary")
    marks = [
        b.mark("L1", "2025-09-01", "AM", "/"),  # the first day of the year counts
        b.mark("L1", "2025-09-01", "PM", "M"),
        b.mark("L1", "2025-11-03", "AM", "B"),
        b.mark("L1", "2025-11-03", "PM", "Y3"),
        b.mark("L1", "2026-08-31", "AM", "N"),  # the last day of the year counts
        b.mark("L1", "2026-09-01", "AM", "N"),  # the next year's first day does not
        b.mark("L1", "2025-08-29", "AM", "N"),  # nor does the last one's last week
    ]
    f.send(school, {"learners": [b.learner("L1"), b.learner("L2")], "session-attendance": marks}, mode="full")

    with tenant_scope([school.id]), CaptureQueriesContext(connection) as queries:
        figures = year_figures(school_id=school.id, learner_source_id="L1", start=dt.date(2025, 9, 1))
        empty = year_figures(school_id=school.id, learner_source_id="L2", start=dt.date(2025, 9, 1))

    assert len(queries.captured_queries) == 2
    assert (figures.possible, figures.attended, str(figures.percentage)) == (4, 2, "50.0")
    assert [(m.month, m.possible, m.attended, str(m.percentage)) for m in figures.months] == [
        (dt.date(2025, 9, 1), 2, 1, "50.0"),
        (dt.date(2025, 11, 1), 1, 1, "100.0"),
        (dt.date(2026, 8, 1), 1, 0, "0.0"),
    ]
    assert figures.recorded
    assert (empty.possible, empty.attended, empty.percentage, empty.months, empty.recorded) == (0, 0, None, (), False)
