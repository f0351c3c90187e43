"""Sessions pages: a member of staff's own, a school administrator's "Staff sessions" (people with a
role in the chosen school), and a processor administrator's "All staff sessions"; each session can
be ended after a confirmation page. The lists and the ending are `signins`' (which audits each
ending); these views choose who may see which, audit what was shown, and say what happened."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required, staff_required
from steward.core.http import StewardRequest
from steward.signins import selectors
from steward.signins import services as signins
from steward.signins.models import EndReason, StaffSession
from steward.tenancy.models import Role

CONFIRM_ERROR = "Select yes to end the session, or no to keep it"


def _list(
    request: StewardRequest, sessions: list[StaffSession], *, title: str, prefix: str, others: bool
) -> HttpResponse:
    audit_request(
        request,
        action="view",
        object_type="signins.StaffSession",
        object_ids=[s.pk for s in sessions],
        purpose="session security",
    )
    current = signins.current_ids(request).get("staff")
    context = {
        "sessions": sessions,
        "title": title,
        "end_prefix": prefix,
        "others": others,
        "current": current,
        "idle_minutes": signins.idle_limit("staff") // 60,
        "absolute_hours": int(settings.STEWARD_SESSION_ABSOLUTE) // 3600,
    }
    return render(request, "backoffice/sessions.html", context)


def _end(request: StewardRequest, found: QuerySet[StaffSession], *, back: str, why: str) -> HttpResponse:
    """GET: the session and a yes/no question; POST yes: end it and say so; POST no: back, unchanged."""
    session = found.filter(ended_at__isnull=True).select_related("user").first()
    if session is None:
        raise Http404("No such active session")
    mine = session.user_id == request.user.pk
    current = signins.current_ids(request).get("staff") == session.pk
    error = ""
    if request.method == "POST":
        answer = request.POST.get("confirm")
        if answer == "no":
            return redirect(back)
        if answer != "yes":
            error = CONFIRM_ERROR
        else:
            by = "" if mine else getattr(request.user, "full_name", "")
            school_id = getattr(request, "school_id", None)
            actor = actor_from_request(request)
            signins.end_sessions(StaffSession, [session.pk], why=why, actor=actor, school_id=school_id, by=by)
            if current:  # its row is gone: empty the session, so that nothing saves it again
                request.session.flush()
                return redirect("backoffice:sign-in")
            whose = "Your" if mine else f"{session.user.full_name}'s"
            messages.success(request, f"{whose} session on {session.device} is ended: that browser is signed out.")
            return redirect(back)
    context = {"session": session, "mine": mine, "current": current, "error": error, "back": back}
    return render(request, "backoffice/session_end.html", context, status=400 if error else 200)


@staff_required
def account_sessions(request: StewardRequest) -> HttpResponse:
    sessions = list(selectors.own_staff_sessions(int(request.user.pk or 0)))
    return _list(request, sessions, title="Your sessions", prefix="/account/sessions/", others=False)


@staff_required
def account_session_end(request: StewardRequest, session_id: int) -> HttpResponse:
    found = selectors.own_staff_sessions(int(request.user.pk or 0)).filter(pk=session_id)
    return _end(request, found, back="/account/sessions/", why=EndReason.ENDED_BY_PERSON)


@school_role_required(Role.SCHOOL_ADMIN)
def school_staff_sessions(request: StewardRequest) -> HttpResponse:
    sessions = list(selectors.school_staff_sessions(chosen_school(request)))
    return _list(request, sessions, title="Staff sessions", prefix="/school/sessions/", others=True)


@school_role_required(Role.SCHOOL_ADMIN)
def school_staff_session_end(request: StewardRequest, session_id: int) -> HttpResponse:
    found = selectors.school_staff_sessions(chosen_school(request)).filter(pk=session_id)
    return _end(request, found, back="/school/sessions/", why=EndReason.ENDED_BY_ADMIN)


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_staff_sessions(request: StewardRequest) -> HttpResponse:
    sessions = list(selectors.all_staff_sessions())
    return _list(request, sessions, title="All staff sessions", prefix="/processor/sessions/", others=True)


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_staff_session_end(request: StewardRequest, session_id: int) -> HttpResponse:
    found = selectors.all_staff_sessions().filter(pk=session_id)
    return _end(request, found, back="/processor/sessions/", why=EndReason.ENDED_BY_ADMIN)
