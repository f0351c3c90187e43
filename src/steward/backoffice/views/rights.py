"""Subject rights requests in the back office: log one, see what is due and what is overdue, and
answer one through the actions its type allows (each executed, and audited, by the rights services
through every app's privacy provider; the pages viewed are audited here)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import IO, Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone

from steward.audit.actor import Actor, actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, school_role_required
from steward.core.forms import add_refusal
from steward.core.http import StewardRequest
from steward.rights import selectors, services
from steward.rights.deadlines import latest_extension
from steward.rights.models import RightsRequest
from steward.tenancy.models import Organisation, Role


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=RightsRequest.Kind.choices, widget=forms.Select(attrs={"class": "govuk-select"}))
    subject_kind = forms.ChoiceField(
        choices=RightsRequest.SubjectKind.choices,
        label="Whose data",
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    subject_id = forms.IntegerField(
        label="Record id", min_value=1, widget=forms.NumberInput(attrs={"class": "govuk-input govuk-input--width-10"})
    )
    subject_label = forms.CharField(
        label="Name as given", max_length=200, widget=forms.TextInput(attrs={"class": "govuk-input"})
    )
    requested_by = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"class": "govuk-input"}))
    received_on = forms.DateField(
        label="Received on (YYYY-MM-DD)", widget=forms.DateInput(attrs={"class": "govuk-input govuk-input--width-10"})
    )
    note = forms.CharField(
        label="What was asked for (for a rectification, the correction)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 3}),
    )


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
def rights_requests(request: StewardRequest) -> HttpResponse:
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_log(
                school=Organisation.objects.get(pk=chosen_school(request)),
                actor=actor_from_request(request),
                **form.cleaned_data,
            )
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            messages.success(request, "The request is logged.")
            return redirect("backoffice:school-rights")
    today = timezone.localdate()
    open_requests = list(selectors.open_requests())
    overdue = {r.id for r in selectors.overdue_requests(today=today)}
    audit_request(
        request,
        action="view",
        object_type="rights.RightsRequest",
        object_ids=[r.id for r in open_requests],
        purpose="subject rights",
    )
    return render(
        request,
        "backoffice/rights.html",
        {
            "form": form,
            "requests": open_requests,
            "overdue": overdue,
            "today": today,
        },
        status=400 if form.errors else 200,
    )


# --- One request: its history and the actions its type allows ----------------------------------

ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    RightsRequest.Kind.ACCESS: ("bundle",),
    RightsRequest.Kind.PORTABILITY: ("portable",),
    RightsRequest.Kind.ERASURE: ("erase",),
    RightsRequest.Kind.RESTRICTION: ("restrict", "lift"),
    RightsRequest.Kind.RECTIFICATION: ("forward", "complete"),
    RightsRequest.Kind.OBJECTION: ("uphold", "reject", "lift"),
}
COMMON_ACTIONS = ("identity", "extend", "refuse")


def _load(request_id: int) -> RightsRequest:
    """The request, within the current school's scope only: another school's id is a 404."""
    found: RightsRequest | None = RightsRequest.objects.select_related("school").filter(pk=request_id).first()
    if found is None:
        raise Http404("No such request")
    return found


def _zip_response(fill: Callable[[IO[bytes]], object], filename: str) -> FileResponse:
    """Stream the zip from a spooled file: small bundles stay in memory, large ones go to disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - FileResponse closes it
    fill(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename, content_type="application/zip")


def _run(rights_request: RightsRequest, action: str, post: Any, actor: Actor) -> HttpResponseBase | None:
    """Carry out one action; a download answers with the file, any other action with None."""
    if action == "identity":
        services.request_mark_identity_checked(request=rights_request, actor=actor)
    elif action == "extend":
        to = forms.DateField().clean(post.get("extend_to", ""))
        services.request_extend(request=rights_request, to=to, reason=post.get("reason", ""), actor=actor)
    elif action == "refuse":
        services.request_refuse(request=rights_request, reason=post.get("reason", ""), actor=actor)
    elif action == "bundle":
        return _zip_response(
            lambda out: services.access_bundle(request=rights_request, actor=actor, out=out),
            f"subject-access-{rights_request.id}.zip",
        )
    elif action == "portable":
        return _zip_response(
            lambda out: services.portability_bundle(request=rights_request, actor=actor, out=out),
            f"portable-data-{rights_request.id}.zip",
        )
    elif action == "erase":
        if post.get("confirm") != "yes":
            raise ValidationError({"confirm": "confirm that you have read what will be deleted"})
        services.erasure_execute(request=rights_request, actor=actor)
    elif action in ("restrict", "lift"):
        services.restriction_apply(request=rights_request, restricted=action == "restrict", actor=actor)
    elif action == "forward":
        services.rectification_forward(request=rights_request, actor=actor)
    elif action == "complete":
        services.request_complete(request=rights_request, note=post.get("reason", ""), actor=actor)
    elif action in ("uphold", "reject"):
        services.objection_decide(
            request=rights_request, upheld=action == "uphold", reason=post.get("reason", ""), actor=actor
        )
    return None


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
def rights_request(request: StewardRequest, request_id: int) -> HttpResponse:
    rights_request = _load(request_id)
    allowed = COMMON_ACTIONS + ACTIONS_BY_KIND[rights_request.kind]
    errors: list[str] = []
    confirm_error = ""  # the erasure's confirmation box, marked and linked to when it was left unticked
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in allowed:
            raise PermissionDenied(f"{action!r} is not an action on a {rights_request.get_kind_display()} request")
        try:
            with transaction.atomic():
                response = _run(rights_request, action, request.POST, actor_from_request(request))
        except ValidationError as refused:
            errors = list(refused.messages)
            by_field = refused.message_dict if hasattr(refused, "error_dict") else {}
            confirm_error = " ".join(by_field.get("confirm", []))
            rights_request = _load(request_id)
        else:
            if response is not None:
                # A streamed download: the access decorators type views as returning HttpResponse.
                return cast(HttpResponse, response)
            messages.success(request, "Done: the request's history below records it.")
            return redirect("backoffice:school-rights-request", request_id=rights_request.id)
    preview = None
    erasable = rights_request.kind == RightsRequest.Kind.ERASURE and rights_request.identity_checked
    if erasable and rights_request.status in selectors.OPEN:
        try:
            preview = services.erasure_preview(request=rights_request)
        except services.SubjectNotInSchool as refused:  # the subject has left the school since
            errors = errors or list(refused.messages)
    audit_request(
        request,
        action="view",
        object_type="rights.RightsRequest",
        object_ids=[rights_request.id],
        purpose="subject rights",
    )
    context = {
        "r": rights_request,
        "events": list(rights_request.events.all()),
        "actions": set(allowed),
        "open": rights_request.status in selectors.OPEN,
        "overdue": rights_request.status in selectors.OPEN and rights_request.due < timezone.localdate(),
        "latest_extension": latest_extension(rights_request.received_on),
        "preview": preview,
        "errors": errors,
        "confirm_error": confirm_error,
        "pdf": True,
    }
    return render(request, "backoffice/rights_request.html", context, status=400 if errors else 200)
