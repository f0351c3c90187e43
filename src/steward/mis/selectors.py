"""Queries over the school data model that several apps need, defined once."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from steward.mis.models import SchoolEnrolment


def enrolments_on_roll(school_id: int, on: dt.date | None = None) -> QuerySet[SchoolEnrolment]:
    """Enrolments current on the day (today by default): started, and not yet left.

    The portal's children query (`portal/selectors.py`, written as SQL) states the same condition.
    Call inside the school's tenant scope.
    """
    day = on or timezone.localdate()
    return SchoolEnrolment.objects.filter(school_id=school_id, entry_date__lte=day).filter(
        Q(leaving_date__isnull=True) | Q(leaving_date__gt=day)
    )
