"""Who may see which sessions: a person their own, a school administrator their school's staff,
a processor administrator every member of staff's. Each list is one query, live sessions only: a
row not ended but past the idle or absolute limit belongs to a browser that never came back (closed,
or signed in as someone else), and its next request would end it, so it is not shown."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from steward.signins.models import Kind, ParentSession, StaffSession
from steward.signins.services import idle_limit
from steward.tenancy.models import Membership


def _live(kind: str) -> dict[str, object]:
    now = timezone.now()
    return {
        "ended_at__isnull": True,
        "last_seen_at__gte": now - dt.timedelta(seconds=idle_limit(kind)),
        "started_at__gte": now - dt.timedelta(seconds=int(settings.STEWARD_SESSION_ABSOLUTE)),
    }


def own_staff_sessions(user_id: int) -> QuerySet[StaffSession]:
    return StaffSession.objects.filter(user_id=user_id, **_live(Kind.STAFF)).order_by("-last_seen_at", "-pk")


def own_parent_sessions(parent_id: int) -> QuerySet[ParentSession]:
    return ParentSession.objects.filter(parent_id=parent_id, **_live(Kind.PARENT)).order_by("-last_seen_at", "-pk")


def school_staff_sessions(school_id: int) -> QuerySet[StaffSession]:
    """Active sessions of the people who hold a role in this school (and of no one else, even when
    another school's staff or the processor's are signed in at the same time)."""
    # A membership restricted under Art. 18 grants nothing (as in `tenancy.selectors.school_roles`).
    members = Membership.objects.filter(organisation_id=school_id, restricted_at__isnull=True).values("user_id")
    return (
        StaffSession.objects.filter(user_id__in=members, **_live(Kind.STAFF))
        .select_related("user")
        .order_by("user__full_name", "-last_seen_at", "-pk")
    )


def all_staff_sessions() -> QuerySet[StaffSession]:
    return (
        StaffSession.objects.filter(**_live(Kind.STAFF))
        .select_related("user")
        .order_by("user__full_name", "-last_seen_at", "-pk")
    )
