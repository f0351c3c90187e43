"""Run each request inside the tenant scope of the school the signed-in user has chosen.

A request with no chosen school (signed out, processor pages, or a user who holds no role in
the school stored in their session) runs in an empty scope: tenant tables show nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from steward.core.http import StewardRequest
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import school_roles

SESSION_KEY = "steward_school_id"


class TenantScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StewardRequest) -> HttpResponse:
        request.school_id = None
        request.school_roles = set()
        if request.path_info.startswith("/portal/"):
            # The parent portal scopes each request to the parent's own schools
            # (`steward.portal.auth.parent_required`); outside it, tenant tables stay closed.
            return self.get_response(request)
        user = request.user
        if user.is_authenticated and getattr(user, "is_verified", lambda: False)():
            chosen = request.session.get(SESSION_KEY)
            if chosen is not None:
                roles = school_roles(user=user, school_id=int(chosen))  # type: ignore[arg-type]
                if roles:
                    request.school_id = int(chosen)
                    request.school_roles = roles
                else:
                    del request.session[SESSION_KEY]
        ids = [request.school_id] if request.school_id else []
        with tenant_scope(ids):
            return self.get_response(request)
