"""Run each request inside the tenant scope of the school the signed-in user has chosen.

A request with no chosen school (signed out, processor pages, or a user who holds no role in
the school stored in their session) runs in an empty scope: tenant tables show nothing, unless the
user has a live support window (a grant the school approved, `servicedesk.support`): then the
window's school is in scope, and the database itself checks the window on every statement.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from steward.core.http import StewardRequest
from steward.tenancy.models import User
from steward.tenancy.scope import SupportEntry, tenant_scope
from steward.tenancy.selectors import live_support_window, school_roles

SESSION_KEY = "steward_school_id"
# The processor's own pages read across the estate (`estate_scope`) and never run under a window.
PROCESSOR_PAGES = "/processor/"


class TenantScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StewardRequest) -> HttpResponse:
        request.school_id = None
        request.school_roles = set()
        request.support_grant = ""
        request.support_scope = frozenset()
        if request.path_info.startswith("/portal/"):
            # The parent portal scopes each request to the parent's own schools
            # (`steward.portal.auth.parent_required`); outside it, tenant tables stay closed.
            return self.get_response(request)
        user = request.user
        support: SupportEntry | None = None
        if user.is_authenticated and getattr(user, "is_verified", lambda: False)():
            chosen = request.session.get(SESSION_KEY)
            if chosen is not None:
                roles = school_roles(user=user, school_id=int(chosen))  # type: ignore[arg-type]
                if roles:
                    request.school_id = int(chosen)
                    request.school_roles = roles
                else:
                    del request.session[SESSION_KEY]
            if request.school_id is None and not request.path_info.startswith(PROCESSOR_PAGES):
                support = _support_entry(request, user)  # type: ignore[arg-type]
        ids = [request.school_id] if request.school_id and support is None else []
        with tenant_scope(ids, support=support):
            return self.get_response(request)


def _support_entry(request: StewardRequest, user: User) -> SupportEntry | None:
    """A processor user with no school chosen, during a live support window, works in that school
    with no school role: the back office's support views read it, and PostgreSQL checks the window
    again on every statement. Checked on every request, so an ended window ends access at once."""
    window = live_support_window(user=user)
    if window is None:
        return None
    request.school_id = window.school_id
    request.support_grant = window.grant_reference
    request.support_scope = frozenset(window.areas)
    return SupportEntry(window_id=window.pk, user_id=user.pk, school_id=window.school_id)
