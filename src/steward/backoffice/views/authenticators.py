"""A processor administrator resets a member of staff's lost authenticator, after confirming."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.backoffice.access import processor_role_required
from steward.backoffice.auth import AuthenticatorResetError, authenticator_reset
from steward.tenancy.models import Role, User
from steward.tenancy.selectors import staff_accounts


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_staff(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/processor_staff.html", {"people": staff_accounts()})


@processor_role_required(Role.PROCESSOR_ADMIN)
def authenticator_reset_confirm(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: what will happen and a confirmation box; POST: the reset, only with the box ticked."""
    person = User.objects.filter(pk=user_id, is_active=True).first()
    if person is None:
        raise Http404("No such member of staff")
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = "Confirm that the person has lost their authenticator and that you have checked who they are"
        else:
            try:
                authenticator_reset(request, user=person, by=request.user)  # type: ignore[arg-type]
            except AuthenticatorResetError as e:
                error = str(e)
            else:
                done = f"{person.full_name}'s authenticator is reset: they set up a new one when they next sign in."
                messages.success(request, done)
                return redirect("backoffice:processor-staff")
    context = {"person": person, "error": error}
    return render(request, "backoffice/authenticator_reset.html", context, status=400 if error else 200)
