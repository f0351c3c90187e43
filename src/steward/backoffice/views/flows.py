"""A school's review of data-flow requests: read the request in plain words, then decide.

Thin: the selectors describe the flow, the sharing services enforce every rule. A refused
decision shows the service's reasons and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.audit.actor import Actor, actor_from_request
from steward.backoffice.access import school_role_required
from steward.sharing import selectors, services
from steward.sharing.models import DataFlow
from steward.tenancy.models import Role

DECIDERS = (Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)


def _approve(request: HttpRequest, flow: DataFlow, actor: Actor) -> DataFlow:
    fields = request.POST.getlist("fields")
    return services.flow_approve(flow=flow, actor=actor, fields=fields, note=_note(request))


def _decline(request: HttpRequest, flow: DataFlow, actor: Actor) -> DataFlow:
    return services.flow_decline(flow=flow, actor=actor, note=_note(request))


def _suspend(request: HttpRequest, flow: DataFlow, actor: Actor) -> DataFlow:
    return services.flow_suspend(flow=flow, actor=actor, note=_note(request))


def _revoke(request: HttpRequest, flow: DataFlow, actor: Actor) -> DataFlow:
    return services.flow_revoke(flow=flow, actor=actor, note=_note(request))


ACTIONS: dict[str, Callable[[HttpRequest, DataFlow, Actor], DataFlow]] = {
    "approve": _approve,
    "decline": _decline,
    "suspend": _suspend,
    "revoke": _revoke,
}


def _note(request: HttpRequest) -> str:
    return request.POST.get("note", "").strip()


@school_role_required(*DECIDERS, support="flows")
def school_flows(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/flows.html", {"groups": selectors.flows_for_school()})


@school_role_required(*DECIDERS, support="flows")
def school_flow(request: HttpRequest, flow_id: int) -> HttpResponse:
    return _render_detail(request, flow_id)


@require_POST
@school_role_required(*DECIDERS)
def school_flow_action(request: HttpRequest, flow_id: int, action: str) -> HttpResponse:
    decide = ACTIONS.get(action)
    flow = selectors.flow_for_school(flow_id=flow_id)
    if decide is None or flow is None:
        raise Http404("No such flow for this school")
    try:
        # The flow's history names the person (not their email): the label the event rows always had.
        decide(request, flow, actor_from_request(request).labelled(request.user.full_name))  # type: ignore[union-attr]
    except ValidationError as refused:
        return _render_detail(request, flow_id, errors=_messages(refused), status=400)
    done = {"approve": "approved", "decline": "declined", "suspend": "suspended", "revoke": "revoked"}[action]
    messages.success(request, f"The data sharing flow is {done}.")
    return redirect("backoffice:school-flow", flow_id=flow.id)


def _render_detail(
    request: HttpRequest, flow_id: int, *, errors: list[tuple[str, str]] | None = None, status: int = 200
) -> HttpResponse:
    # Read afresh: a refused service call may have changed the object in memory, never the row.
    detail = selectors.flow_detail(flow_id=flow_id)
    if detail is None:
        raise Http404("No such flow for this school")
    context: dict[str, Any] = {"detail": detail, "flow": detail.flow, "errors": errors or []}
    return render(request, "backoffice/flow.html", context, status=status)


def _messages(refused: ValidationError) -> list[tuple[str, str]]:
    """(anchor, message) pairs for the error summary."""
    if not hasattr(refused, "error_dict"):
        return [("decision", m) for m in refused.messages]
    anchors = {"fields": "fields", "note": "note"}
    return [(anchors.get(field, "decision"), m) for field, ms in refused.message_dict.items() for m in ms]
