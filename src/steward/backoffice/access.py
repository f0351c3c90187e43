"""Who may open which back-office page. Every check fails closed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from steward.tenancy.selectors import processor_roles

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Signed in with a password *and* a second factor."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated or not request.user.is_verified():  # type: ignore[attr-defined]
            return redirect(f"/sign-in/?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapped


def school_role_required(*roles: str) -> Callable[[View], View]:
    """A school is chosen and the user holds one of these roles in it."""

    def decorator(view: View) -> View:
        @staff_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not getattr(request, "school_id", None):
                return redirect("backoffice:choose-school")
            if not set(roles) & request.school_roles:  # type: ignore[attr-defined]
                raise PermissionDenied("You do not hold a role in this school that may open this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def processor_role_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @staff_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not set(roles) & processor_roles(user=request.user):  # type: ignore[arg-type]
                raise PermissionDenied("This page is for the ICT service's staff.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
