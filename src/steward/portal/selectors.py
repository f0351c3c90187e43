"""What a parent may see, read for one request in a few set-based queries.

Every read runs inside the tenant scope of the parent's linked schools, and every query of
learner data is joined to the parent's own links: a child is reachable only through a current
learner–contact link with parental responsibility to a contact the account stands for, and only
while the learner is on roll. An item the school has switched off raises `ItemSwitchedOff`
before any of its rows are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from steward.mis.attendance import YearFigures, school_year_start, year_figures
from steward.mis.models import (
    Achievement,
    Behaviour,
    DiaryEvent,
    GroupEnrolment,
    Homework,
    Learner,
    LessonAttendance,
    SchoolDetails,
    SchoolGroup,
)
from steward.portal.items import ITEMS, ITEMS_BY_CODE, SWITCHES, Item
from steward.portal.models import ParentAccount, ParentLink, PortalInvitation, PortalSettings
from steward.tenancy.models import Organisation
from steward.tenancy.scope import current_school_ids


class ItemSwitchedOff(Http404):
    """The school does not show this item to parents."""


def parent_for_request(parent_id: int) -> ParentAccount | None:
    """The signed-in account with the ids of its linked schools, in one query (run on every page).

    It runs before any school scope exists, so the links are read through
    `steward_parent_school_ids`, which opens the narrow parent scope (`steward.parent_id`) for that
    one read: row-level security lets through this account's links and no one else's. A link
    restricted under Art. 18 leaves its school out of the scope: nothing of it is shown.
    """
    found = list(
        ParentAccount.objects.raw(
            "SELECT p.*, steward_parent_school_ids(p.id) AS school_ids"
            " FROM portal_parentaccount p WHERE p.id = %s AND p.is_active AND p.closed_at IS NULL",
            [parent_id],
        )
    )
    return found[0] if found else None


def parent_links(parent: ParentAccount) -> list[ParentLink]:
    """The account's links to contacts at schools, with each school, by school name."""
    return list(ParentLink.objects.filter(parent=parent).select_related("school").order_by("school__name"))


def parent_link(parent: ParentAccount, link_id: int) -> ParentLink | None:
    """One of the account's own links; None for another account's (or no) link."""
    return ParentLink.objects.select_related("school").filter(pk=link_id, parent=parent).first()


def parent_school_ids(parent_id: int) -> list[int]:
    """The schools an account is linked to, open or closed, read in the parent scope (see above)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT steward_parent_school_ids(%s)", [parent_id])
        return list(cursor.fetchone()[0])  # type: ignore[index]


# One statement per page, written out: it is the portal's hottest query, and building it through the
# ORM (four correlated subqueries) cost more Python time than PostgreSQL spends running it.
_CHILDREN_SQL = """
SELECT l.id, l.school_id, l.source_id, l.upn, l.legal_forename, l.middle_names, l.legal_surname,
       l.preferred_forename, l.preferred_surname, l.date_of_birth, l.gender,
       o.name AS school_name, o.urn AS school_urn,
       (SELECT e.year_group FROM mis_schoolenrolment e
         WHERE e.school_id = l.school_id AND e.learner_source_id = l.source_id AND e.leaving_date IS NULL
         ORDER BY e.entry_date DESC LIMIT 1) AS year_group,
       (SELECT json_build_object({switches}) FROM portal_portalsettings s WHERE s.school_id = l.school_id) AS switches,
       (EXISTS (SELECT 1 FROM portal_portalsettings s WHERE s.school_id = l.school_id AND s.show_photo)
        AND coalesce(octet_length(l.photo), 0) > 0) AS has_photo
       {groups}
  FROM mis_learner l
  JOIN tenancy_organisation o ON o.id = l.school_id
 WHERE l.school_id = ANY(%(schools)s) {one}
   AND EXISTS (SELECT 1 FROM mis_learnercontact lc
                 JOIN portal_parentlink pl
                   ON pl.school_id = lc.school_id AND pl.contact_source_id = lc.contact_source_id
                WHERE lc.school_id = l.school_id AND lc.learner_source_id = l.source_id
                  AND lc.parental_responsibility AND pl.parent_id = %(parent)s)
   AND EXISTS (SELECT 1 FROM mis_schoolenrolment e
                WHERE e.school_id = l.school_id AND e.learner_source_id = l.source_id
                  AND e.entry_date <= %(today)s AND (e.leaving_date IS NULL OR e.leaving_date > %(today)s))
   AND NOT EXISTS (SELECT 1 FROM mis_processingrestriction r
                    WHERE r.school_id = l.school_id AND r.record_type = 'learners' AND r.source_id = l.source_id)
 ORDER BY l.date_of_birth, l.id
"""
_SWITCH_PAIRS = ", ".join(f"'{name}', s.{name}" for name in SWITCHES)
# The child's current classes and groups, for the child's own page only (a column, not a query more).
_GROUPS = """, (SELECT coalesce(json_agg(g.name ORDER BY g.group_type, g.name), '[]')
           FROM mis_schoolgroup g
          WHERE g.school_id = l.school_id
            AND g.source_id IN (SELECT ge.group_source_id FROM mis_groupenrolment ge
                                 WHERE ge.school_id = l.school_id AND ge.learner_source_id = l.source_id
                                   AND (ge.end_date IS NULL OR ge.end_date >= %(today)s))) AS group_names"""


def children_of(parent_id: int, *, learner_id: int | None = None, with_groups: bool = False) -> list[Learner]:
    """Learners the parent holds parental responsibility for (through the MIS link of a contact the
    account stands for), on roll today and not restricted, with school, year group, the school's
    portal switches and whether there is a photo to show (asked only where the school shows photos,
    so a page never links to a photo that is not there: no broken image). Call inside the tenant
    scope of the parent's schools."""
    sql = _CHILDREN_SQL.format(
        switches=_SWITCH_PAIRS,
        one="AND l.id = %(learner)s" if learner_id else "",
        groups=_GROUPS if with_groups else "",
    )
    params = {
        "schools": list(current_school_ids()),
        "parent": parent_id,
        "today": timezone.localdate(),
        "learner": learner_id,
    }
    children = list(Learner.objects.raw(sql, params))
    for child in children:  # the school came with the row: no query per child for its name
        child.school = Organisation(id=child.school_id, name=child.school_name, urn=child.school_urn)  # type: ignore[attr-defined]
    return children


def child_of(parent_id: int, learner_id: int, *, with_groups: bool = False) -> Learner:
    """One child of the parent, or 404 (another family's child looks exactly like a missing one).
    `with_groups`: with `group_names`, the child's current classes and groups (`child_groups`)."""
    found = children_of(parent_id, learner_id=learner_id, with_groups=with_groups)
    if not found:
        raise Http404("No such child")
    return found[0]


def parent_schools() -> list[Organisation]:
    """The schools of the request's scope (the parent's linked schools), by name: each has its own
    privacy notice for the portal, which the portal links to."""
    return list(Organisation.objects.filter(id__in=current_school_ids()).order_by("name").only("id", "name", "urn"))


def school_settings(school_id: int) -> PortalSettings:
    """The school's switches (unsaved defaults, all off, if it never chose). In its scope."""
    return PortalSettings.objects.filter(school_id=school_id).first() or PortalSettings(school_id=school_id)


def pending_invitations(school_id: int) -> QuerySet[PortalInvitation]:
    """Invitations that can still be used: not accepted, revoked or expired (`PortalInvitation.usable`)."""
    return PortalInvitation.objects.filter(
        school_id=school_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def portal_settings(child: Learner) -> PortalSettings:
    """The school's switches, read with the child; a school that never chose shows only what is
    always shown."""
    return PortalSettings(school_id=child.school_id, **(getattr(child, "switches", None) or {}))


def visible_items(settings: PortalSettings) -> list[Item]:
    return [item for item in ITEMS if item.switch is None or getattr(settings, item.switch)]


def require_item(settings: PortalSettings, code: str) -> Item:
    item = ITEMS_BY_CODE.get(code)
    if item is None:
        raise Http404("No such item")
    if item.switch is not None and not getattr(settings, item.switch):
        raise ItemSwitchedOff(f"{item.label} is not shown by this school")
    return item


# --- Item readers. Each takes the child and reads only that child's (or school's) rows. ---------


def child_groups(child: Learner) -> list[str]:
    """The names of the child's current classes and groups, read with the child (`child_of(...,
    with_groups=True)`): the child's page spends its query on the attendance figures instead."""
    return list(getattr(child, "group_names", None) or [])


def child_photo(child: Learner, settings: PortalSettings) -> bytes | None:
    require_item(settings, "photo")
    photo = Learner.objects.filter(pk=child.pk, school_id=child.school_id).values_list("photo", flat=True).first()
    return bytes(photo) if photo else None


def school_details(child: Learner) -> SchoolDetails | None:
    return SchoolDetails.objects.filter(school_id=child.school_id).order_by("id").first()


def homework(child: Learner, *, days_back: int = 14, limit: int = 50) -> list[dict[str, Any]]:
    since = timezone.localdate() - dt.timedelta(days=days_back)
    groups = GroupEnrolment.objects.filter(school_id=child.school_id, learner_source_id=child.source_id).values(
        "group_source_id"
    )
    group_name = SchoolGroup.objects.filter(school=OuterRef("school"), source_id=OuterRef("group_source_id")).values(
        "name"
    )[:1]
    return list(
        Homework.objects.filter(school_id=child.school_id, group_source_id__in=groups, due_date__gte=since)
        .annotate(group_name=Subquery(group_name))
        .order_by("due_date", "id")
        .values("title", "description", "subject", "set_date", "due_date", "group_name")[:limit]
    )


def diary(child: Learner, *, limit: int = 50) -> list[dict[str, Any]]:
    start = timezone.now() - dt.timedelta(days=1)
    return list(
        DiaryEvent.objects.filter(school_id=child.school_id, starts_at__gte=start)
        .order_by("starts_at", "id")
        .values("description", "category", "starts_at", "ends_at")[:limit]
    )


@dataclass
class AttendanceWeek:
    week_start: dt.date
    marks: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (date, session, mark)
    minutes_late: int = 0


def academic_year_start(today: dt.date) -> dt.date:
    return school_year_start(today)


def attendance_figures(child: Learner, start: dt.date, *, with_marks: bool = False) -> YearFigures:
    """The child's percentage and monthly figures for the school year from `start` (and its marks,
    `with_marks`): one aggregate query (`mis.attendance.year_figures`), whatever the number of marks."""
    return year_figures(
        school_id=child.school_id, learner_source_id=child.source_id, start=start, with_marks=with_marks
    )


def attendance_weeks(figures: YearFigures) -> list[AttendanceWeek]:
    """The year's marks (read with the figures) by week, newest week first."""
    weeks: dict[dt.date, AttendanceWeek] = {}
    for m in figures.marks:
        monday = m.date - dt.timedelta(days=m.date.weekday())
        week = weeks.setdefault(monday, AttendanceWeek(monday))
        week.marks.append((m.date, m.session, m.mark))
        week.minutes_late += m.minutes_late or 0
    return sorted(weeks.values(), key=lambda w: w.week_start, reverse=True)


def lesson_attendance(child: Learner, *, days_back: int = 28) -> list[dict[str, Any]]:
    since = timezone.localdate() - dt.timedelta(days=days_back)
    group_name = SchoolGroup.objects.filter(school=OuterRef("school"), source_id=OuterRef("group_source_id")).values(
        "name"
    )[:1]
    return list(
        LessonAttendance.objects.filter(
            school_id=child.school_id, learner_source_id=child.source_id, lesson_date__gte=since
        )
        .annotate(group_name=Subquery(group_name))
        .order_by("-lesson_date", "-start_time")
        .values("lesson_date", "start_time", "end_time", "mark", "minutes_late", "group_name")
    )


def achievements(child: Learner, *, limit: int = 100) -> list[dict[str, Any]]:
    return list(
        Achievement.objects.filter(school_id=child.school_id, learner_source_id=child.source_id)
        .order_by("-event_date", "-id")
        .values("achievement_type", "activity_type", "points", "comments", "event_date")[:limit]
    )


def behaviour(child: Learner, *, limit: int = 100) -> list[dict[str, Any]]:
    return list(
        Behaviour.objects.filter(school_id=child.school_id, learner_source_id=child.source_id)
        .order_by("-event_date", "-id")
        .values("behaviour_type", "activity_type", "location", "points", "comments", "event_date")[:limit]
    )
