"""Who may see which sessions: a person their own, a school administrator their school's staff,
a processor administrator every member of staff's. Each list is one query, active sessions only."""

from __future__ import annotations

from django.db.models import QuerySet

from steward.signins.models import ParentSession, StaffSession
from steward.tenancy.models import Membership


def own_staff_sessions(user_id: int) -> QuerySet[StaffSession]:
    return StaffSession.objects.filter(user_id=user_id, ended_at__isnull=True).order_by("-last_seen_at", "-pk")


def own_parent_sessions(parent_id: int) -> QuerySet[ParentSession]:
    return ParentSession.objects.filter(parent_id=parent_id, ended_at__isnull=True).order_by("-last_seen_at", "-pk")


def school_staff_sessions(school_id: int) -> QuerySet[StaffSession]:
    """Active sessions of the people who hold a role in this school (and of no one else, even when
    another school's staff or the processor's are signed in at the same time)."""
    members = Membership.objects.filter(organisation_id=school_id).values("user_id")
    return (
        StaffSession.objects.filter(user_id__in=members, ended_at__isnull=True)
        .select_related("user")
        .order_by("user__full_name", "-last_seen_at", "-pk")
    )


def all_staff_sessions() -> QuerySet[StaffSession]:
    return (
        StaffSession.objects.filter(ended_at__isnull=True)
        .select_related("user")
        .order_by("user__full_name", "-last_seen_at", "-pk")
    )
