"""Statutory time limits: one calendar month, extendable by up to two further months (Art. 12(3)).

The ICO's rule: the month runs to the corresponding calendar date of the next month; where there
is none (31 January), to the last day of that month.
"""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def response_deadline(received_on: dt.date) -> dt.date:
    return add_months(received_on, 1)


def latest_extension(received_on: dt.date) -> dt.date:
    """The furthest an extension may go: two further months after the first."""
    return add_months(received_on, 3)
