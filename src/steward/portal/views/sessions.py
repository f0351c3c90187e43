"""A parent's own sessions: where and on what their account is signed in, and ending one after
confirming. The list and the ending are `signins`' (which audits the ending with the parent as
actor); the view audits the list it showed."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from steward.portal.auth import parent_required, portal_audit
from steward.portal.http import ParentRequest, parent_actor
from steward.signins import selectors
from steward.signins import services as signins
from steward.signins.models import EndReason, ParentSession

CONFIRM_ERROR = "Select yes to end the session, or no to keep it"


@parent_required
def sessions(request: ParentRequest) -> HttpResponse:
    found = list(selectors.own_parent_sessions(request.parent.pk))
    portal_audit(
        request,
        "view",
        parent_id=request.parent.pk,
        object_type="signins.ParentSession",
        object_ids=[s.pk for s in found],
    )
    context = {
        "sessions": found,
        "current": signins.current_ids(request).get("parent"),
        "idle_minutes": signins.idle_limit("parent") // 60,
        "absolute_hours": int(settings.STEWARD_SESSION_ABSOLUTE) // 3600,
    }
    return render(request, "portal/sessions.html", context)


@parent_required
def session_end(request: ParentRequest, session_id: int) -> HttpResponse:
    """GET: the session and a yes/no question; POST yes: end it; POST no: back to the list."""
    session = selectors.own_parent_sessions(request.parent.pk).filter(pk=session_id).first()
    if session is None:
        raise Http404("No such active session of yours")
    current = signins.current_ids(request).get("parent") == session.pk
    error = ""
    if request.method == "POST":
        answer = request.POST.get("confirm")
        if answer == "no":
            return redirect("portal:sessions")
        if answer != "yes":
            error = CONFIRM_ERROR
        else:
            signins.end_sessions(
                ParentSession, [session.pk], why=EndReason.ENDED_BY_PERSON, actor=parent_actor(request)
            )
            if current:  # its row is gone: empty the session, so that nothing saves it again
                request.session.flush()
                return redirect("portal:sign-in")
            messages.success(request, f"Your session on {session.device} is ended: that browser is signed out.")
            return redirect("portal:sessions")
    context = {"session": session, "current": current, "error": error}
    return render(request, "portal/session_end.html", context, status=400 if error else 200)
