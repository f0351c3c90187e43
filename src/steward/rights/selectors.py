"""Reading rights requests: what is due, what is overdue."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from steward.rights.models import RightsRequest

OPEN = (RightsRequest.Status.RECEIVED, RightsRequest.Status.IN_PROGRESS)


def open_requests() -> QuerySet[RightsRequest]:
    """The current school's open requests, soonest due first (an extension moves the date)."""
    requests: QuerySet[RightsRequest] = RightsRequest.objects.filter(status__in=OPEN)
    return requests.order_by(Coalesce(F("extended_deadline"), F("deadline")), "id")


def overdue_requests(*, today: dt.date) -> QuerySet[RightsRequest]:
    return open_requests().filter(
        Q(extended_deadline__lt=today) | Q(extended_deadline__isnull=True, deadline__lt=today)
    )
