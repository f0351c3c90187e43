"""A child's attendance as a parent sees it: this school year or the last one, a percentage, and a
bar per month drawn on the server as inline SVG.

No script draws the chart (the portal's CSP allows none from elsewhere, and a phone on a poor
connection should not wait for one), and no inline style sizes it (the CSP refuses inline styles):
the bars are SVG geometry computed here. The same figures are in a table beside it, which is the
chart's text alternative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from steward.mis.attendance import YearFigures, school_year_start

# The chart's drawing box (SVG user units); it scales to the width it is given.
CHART_WIDTH = 360
CHART_HEIGHT = 180
_PLOT_TOP = 20  # room for the percentage above a full bar
_PLOT_BOTTOM = 150  # the baseline; month names below it
_SLOT = 30  # twelve months fill the width


class YearNotAvailable(ValueError):
    """The `year` asked for is neither this school year nor the last one."""


@dataclass(frozen=True)
class SchoolYear:
    start: dt.date  # 1 September

    @property
    def label(self) -> str:
        return f"{self.start.year} to {self.start.year + 1}"


def years_offered(today: dt.date) -> tuple[SchoolYear, SchoolYear]:
    """This school year and the last one, the two the portal shows."""
    this = school_year_start(today)
    return SchoolYear(this), SchoolYear(this.replace(year=this.year - 1))


def chosen_year(value: str | None, today: dt.date) -> SchoolYear:
    """The school year a `?year=` parameter names by the year it starts in; this one when absent."""
    this, last = years_offered(today)
    if value is None or value == "":
        return this
    for year in (this, last):
        if value == str(year.start.year):
            return year
    raise YearNotAvailable(
        f"There is no attendance to show for a school year starting in '{value[:20]}'. The portal shows this "
        f"school year ({this.label}, year={this.start.year}) and the last one ({last.label}, year={last.start.year})."
    )


@dataclass(frozen=True)
class Bar:
    """One month in the chart and its row in the table."""

    month: dt.date
    possible: int
    attended: int
    percentage: Decimal | None
    x: int
    width: int
    y: int
    height: int
    label_x: int

    @property
    def short_name(self) -> str:
        return self.month.strftime("%b")

    @property
    def name(self) -> str:
        return self.month.strftime("%B %Y")


def _months(year: SchoolYear, today: dt.date) -> list[dt.date]:
    """September to August, or to this month while the year is under way."""
    months = []
    day = year.start
    while day < year.start.replace(year=year.start.year + 1) and day <= today:
        months.append(day)
        day = day.replace(year=day.year + 1, month=1) if day.month == 12 else day.replace(month=day.month + 1)
    return months


def chart_bars(figures: YearFigures, year: SchoolYear, today: dt.date) -> list[Bar]:
    """A bar per month from September to this month (or to the last month with marks, for a year that
    has ended: its summer holiday would be empty bars); a month with no possible session has no bar."""
    by_month = {m.month: m for m in figures.months}
    months = _months(year, today)
    if today >= year.start.replace(year=year.start.year + 1):
        while months and months[-1] not in by_month:
            months.pop()
    plot = _PLOT_BOTTOM - _PLOT_TOP
    bars = []
    for i, month in enumerate(months):
        found = by_month.get(month)
        percentage = found.percentage if found else None
        height = round(plot * float(percentage) / 100) if percentage is not None else 0
        x = i * _SLOT + 4
        bars.append(
            Bar(
                month=month,
                possible=found.possible if found else 0,
                attended=found.attended if found else 0,
                percentage=percentage,
                x=x,
                width=_SLOT - 8,
                y=_PLOT_BOTTOM - height,
                height=height,
                label_x=x + (_SLOT - 8) // 2,
            )
        )
    return bars


@dataclass(frozen=True)
class AttendanceView:
    """What the templates need: the year, the figures, the bars and the other year to switch to."""

    year: SchoolYear
    other_year: SchoolYear
    is_this_year: bool
    figures: YearFigures
    bars: list[Bar]
    chart_width: int = CHART_WIDTH
    chart_height: int = CHART_HEIGHT
    baseline: int = _PLOT_BOTTOM
    label_y: int = _PLOT_BOTTOM + 18


def attendance_view(figures: YearFigures, year: SchoolYear, today: dt.date) -> AttendanceView:
    this, last = years_offered(today)
    return AttendanceView(
        year=year,
        other_year=last if year == this else this,
        is_this_year=year == this,
        figures=figures,
        bars=chart_bars(figures, year, today),
    )
