"""A school administrator resets the lost authenticator of a parent of their school, after confirming."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.backoffice.access import school_role_required
from steward.portal.auth import parent_at_school, parent_authenticator_reset, parents_with_two_factor
from steward.tenancy.models import Role


@school_role_required(Role.SCHOOL_ADMIN)
def school_parent_authenticators(request: HttpRequest) -> HttpResponse:
    school_id: int = request.school_id  # type: ignore[attr-defined]
    return render(
        request, "backoffice/school_parent_authenticators.html", {"parents": parents_with_two_factor(school_id)}
    )


@school_role_required(Role.SCHOOL_ADMIN)
def school_parent_authenticator_reset(request: HttpRequest, parent_id: int) -> HttpResponse:
    """GET: what will happen and a confirmation box; POST: the reset, only with the box ticked."""
    school_id: int = request.school_id  # type: ignore[attr-defined]
    parent = parent_at_school(school_id, parent_id)
    if parent is None or not parent.two_factor:
        raise Http404("No parent of this school with two-factor sign-in")
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = "Confirm that the parent has lost their authenticator and that you have checked who they are"
        else:
            parent_authenticator_reset(request, parent=parent, school_id=school_id)
            messages.success(request, f"{parent.full_name} can now sign in with their password alone.")
            return redirect("backoffice:school-parent-authenticators")
    context = {"person": parent, "error": error, "cancel_url": "backoffice:school-parent-authenticators"}
    return render(request, "backoffice/authenticator_reset.html", context, status=400 if error else 200)
