"""What a parent sees: their children, and for each child the items the school switched on.

Every page that shows a child's data writes one audit event naming the learner and the item.
The event is written last, after rendering: it takes the audit chain's lock, which is held
until the request's transaction commits, so writing it first would serialise whole requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steward.mis.models import Learner
from steward.mis.names import display_name
from steward.portal import selectors
from steward.portal.attendance import AttendanceView, YearNotAvailable, attendance_view, chosen_year
from steward.portal.auth import parent_required, portal_audit
from steward.portal.http import ParentRequest
from steward.portal.items import ITEMS_BY_CODE
from steward.portal.selectors import ItemSwitchedOff


def _audit_view(request: ParentRequest, children: list[Learner], item: str, **more: Any) -> None:
    school_ids = {c.school_id for c in children}
    portal_audit(
        request,
        "portal_view",
        parent_id=request.parent.pk,
        school_id=school_ids.pop() if len(school_ids) == 1 else None,
        object_type="mis.Learner",
        object_ids=[c.source_id for c in children],
        detail={"item": item, **more},
    )


@parent_required
def home(request: ParentRequest) -> HttpResponse:
    children = list(selectors.children_of(request.parent.pk))
    rows = [{"child": c, "name": display_name(c)} for c in children]
    context = {"children": rows, "schools": selectors.parent_schools()}
    response = render(request, "portal/home.html", context)
    if children:
        _audit_view(request, children, "list")
    return response


@parent_required
def child(request: ParentRequest, learner_id: int) -> HttpResponse:
    """The child's own page: who they are and, where the school shows attendance, this school
    year's percentage and chart (the attendance item's reader, so its switch gates both)."""
    learner = selectors.child_of(request.parent.pk, learner_id, with_groups=True)
    settings = selectors.portal_settings(learner)
    groups = selectors.child_groups(learner)
    context = _context(learner, settings) | {"groups": groups, "attendance": None}
    if _shown(settings, "attendance"):
        context["attendance"] = _attendance(learner, None)
    response = render(request, "portal/child.html", context)
    shown = {"also": ["attendance"]} if context["attendance"] else {}
    _audit_view(request, [learner], "details", **shown)
    return response


def _shown(settings: Any, item: str) -> bool:
    """The item's own gate (`require_item`), asked before anything of it is read."""
    try:
        selectors.require_item(settings, item)
    except ItemSwitchedOff:
        return False
    return True


def _initials(child: Learner) -> str:
    return "".join(n[:1].upper() for n in display_name(child).split()[:2] if n)


def _context(learner: Learner, settings: Any) -> dict[str, Any]:
    return {
        "child": learner,
        "name": display_name(learner),
        "initials": _initials(learner),
        "items": [i for i in selectors.visible_items(settings) if i.code not in {"details", "photo"}],
        "show_photo": settings.show_photo and bool(getattr(learner, "has_photo", False)),
    }


def _attendance(learner: Learner, year_param: str | None, *, with_marks: bool = False) -> AttendanceView:
    """This school year's figures, or the last one's (`?year=` its first year); the year is checked
    before anything is read (`YearNotAvailable`, a 400)."""
    today = timezone.localdate()
    year = chosen_year(year_param, today)
    figures = selectors.attendance_figures(learner, year.start, with_marks=with_marks)
    return attendance_view(figures, year, today)


def _attendance_item(learner: Learner, request: ParentRequest) -> dict[str, Any]:
    view = _attendance(learner, request.GET.get("year"), with_marks=True)
    return {"attendance": view, "weeks": selectors.attendance_weeks(view.figures)}


ITEM_READERS: dict[str, Callable[[Learner, ParentRequest], dict[str, Any]]] = {
    "school": lambda c, r: {"details": selectors.school_details(c)},
    "homework": lambda c, r: {"rows": selectors.homework(c)},
    "diary": lambda c, r: {"rows": selectors.diary(c)},
    "attendance": _attendance_item,
    "lessons": lambda c, r: {"rows": selectors.lesson_attendance(c)},
    "achievements": lambda c, r: {"rows": selectors.achievements(c)},
    "behaviour": lambda c, r: {"rows": selectors.behaviour(c)},
}


@parent_required
def child_item(request: ParentRequest, learner_id: int, item: str) -> HttpResponse:
    if item not in ITEM_READERS:
        raise Http404("No such item")
    learner = selectors.child_of(request.parent.pk, learner_id)
    settings = selectors.portal_settings(learner)
    selectors.require_item(settings, item)  # before anything of the item is read
    context = _context(learner, settings) | {"item": ITEMS_BY_CODE[item]}
    try:
        data = ITEM_READERS[item](learner, request)
    except YearNotAvailable as refused:
        return render(request, "portal/year_not_available.html", context | {"message": str(refused)}, status=400)
    response = render(request, f"portal/item_{item}.html", context | data)
    shown = {"school_year": data["attendance"].year.start.year} if item == "attendance" else {}
    _audit_view(request, [learner], item, **shown)
    return response


@parent_required
def child_photo(request: ParentRequest, learner_id: int) -> HttpResponse:
    learner = selectors.child_of(request.parent.pk, learner_id)
    settings = selectors.portal_settings(learner)
    try:
        photo = selectors.child_photo(learner, settings)
    except ItemSwitchedOff:
        raise Http404("No photo") from None
    if photo is None:
        raise Http404("No photo")
    _audit_view(request, [learner], "photo")
    return HttpResponse(photo, content_type="image/jpeg")
