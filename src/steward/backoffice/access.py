"""Who may open which back-office page. Every check fails closed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from steward.core.http import StewardRequest
from steward.tenancy.selectors import processor_roles

View = Callable[..., HttpResponseBase]


def staff_required(view: View) -> View:
    """Signed in with a password *and* a second factor."""

    @wraps(view)
    def wrapped(request: StewardRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # django-otp's middleware adds `is_verified`; without it nobody counts as verified.
        if not request.user.is_authenticated or not getattr(request.user, "is_verified", lambda: False)():
            return redirect(f"/sign-in/?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapped


def school_role_required(*roles: str, support: str | Callable[..., str] = "") -> Callable[[View], View]:
    """A school is chosen and the user holds one of these roles in it.

    `support` names the back-office area a processor user's support grant may open the page under
    (`servicedesk.support.AREAS`): with a live grant whose scope includes it, the page opens to
    read (GET) only. A page without it, or an area the school did not grant, stays closed. A page
    whose area depends on what it shows passes a function of the URL's arguments instead."""

    def decorator(view: View) -> View:
        @staff_required
        @wraps(view)
        def wrapped(request: StewardRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.school_id:
                return redirect("backoffice:choose-school")
            if getattr(request, "support_grant", "") and not request.school_roles:
                require_support_area(request, support(**kwargs) if callable(support) else support)
                return view(request, *args, **kwargs)
            if not set(roles) & request.school_roles:
                raise PermissionDenied("You do not hold a role in this school that may open this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def require_support_area(request: StewardRequest, area: str) -> None:
    """Under a support grant, refuse unless the grant's scope includes `area` and the request only reads."""
    if not area or area not in request.support_scope:
        raise PermissionDenied(f"Your support access ({request.support_grant}) does not include this page.")
    if request.method not in ("GET", "HEAD"):
        raise PermissionDenied(
            f"Support access ({request.support_grant}) lets you read the school's data, not change it."
        )


def under_support(request: StewardRequest) -> bool:
    """A processor user reading a school under a live support grant (they hold no role there)."""
    return bool(getattr(request, "support_grant", "")) and not request.school_roles


def processor_role_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @staff_required
        @wraps(view)
        def wrapped(request: StewardRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not set(roles) & processor_roles(user=request.user):  # type: ignore[arg-type]
                raise PermissionDenied("This page is for the ICT service's staff.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def chosen_school(request: StewardRequest) -> int:
    """The school a school page works in; `school_role_required` lets no request through without
    one, and if a view is ever reached without it this refuses rather than guess."""
    if not request.school_id:
        raise PermissionDenied("Choose a school first.")
    return request.school_id
