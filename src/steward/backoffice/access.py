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


def school_role_required(*roles: str) -> Callable[[View], View]:
    """A school is chosen and the user holds one of these roles in it."""

    def decorator(view: View) -> View:
        @staff_required
        @wraps(view)
        def wrapped(request: StewardRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.school_id:
                return redirect("backoffice:choose-school")
            if not set(roles) & request.school_roles:
                raise PermissionDenied("You do not hold a role in this school that may open this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


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
