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

from steward.mis.models import Learner
from steward.mis.names import display_name
from steward.portal import selectors
from steward.portal.auth import parent_required, portal_audit
from steward.portal.http import ParentRequest
from steward.portal.items import ITEMS_BY_CODE
from steward.portal.selectors import ItemSwitchedOff


def _audit_view(request: ParentRequest, children: list[Learner], item: str) -> None:
    school_ids = {c.school_id for c in children}
    portal_audit(
        request,
        "portal_view",
        parent_id=request.parent.pk,
        school_id=school_ids.pop() if len(school_ids) == 1 else None,
        object_type="mis.Learner",
        object_ids=[c.source_id for c in children],
        detail={"item": item},
    )


@parent_required
def home(request: ParentRequest) -> HttpResponse:
    children = list(selectors.children_of(request.parent.pk))
    rows = [{"child": c, "name": display_name(c)} for c in children]
    response = render(request, "portal/home.html", {"children": rows})
    if children:
        _audit_view(request, children, "list")
    return response


@parent_required
def child(request: ParentRequest, learner_id: int) -> HttpResponse:
    learner = selectors.child_of(request.parent.pk, learner_id)
    settings = selectors.portal_settings(learner)
    groups = selectors.child_groups(learner)
    response = render(request, "portal/child.html", _context(learner, settings) | {"groups": groups})
    _audit_view(request, [learner], "details")
    return response


def _context(learner: Learner, settings: Any) -> dict[str, Any]:
    return {
        "child": learner,
        "name": display_name(learner),
        "items": [i for i in selectors.visible_items(settings) if i.code not in {"details", "photo"}],
        "show_photo": settings.show_photo,
    }


ITEM_READERS: dict[str, Callable[[Learner], dict[str, Any]]] = {
    "school": lambda c: {"details": selectors.school_details(c)},
    "homework": lambda c: {"rows": selectors.homework(c)},
    "diary": lambda c: {"rows": selectors.diary(c)},
    "attendance": lambda c: {"summary": selectors.session_attendance(c)},
    "lessons": lambda c: {"rows": selectors.lesson_attendance(c)},
    "achievements": lambda c: {"rows": selectors.achievements(c)},
    "behaviour": lambda c: {"rows": selectors.behaviour(c)},
}


@parent_required
def child_item(request: ParentRequest, learner_id: int, item: str) -> HttpResponse:
    if item not in ITEM_READERS:
        raise Http404("No such item")
    learner = selectors.child_of(request.parent.pk, learner_id)
    settings = selectors.portal_settings(learner)
    selectors.require_item(settings, item)  # before anything of the item is read
    data = ITEM_READERS[item](learner)
    context = _context(learner, settings) | data | {"item": ITEMS_BY_CODE[item]}
    response = render(request, f"portal/item_{item}.html", context)
    _audit_view(request, [learner], item)
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
