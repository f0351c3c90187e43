"""The parent's page for making a rights request (access, correction, erasure, restriction,
objection, portability) for themselves or a child."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render

from steward.core.forms import add_refusal, posted
from steward.portal.auth import parent_required
from steward.portal.http import ParentRequest
from steward.portal.rights_requests import PORTAL_KINDS, portal_request, request_subjects
from steward.rights.models import RightsRequest

KIND_HINTS = {
    RightsRequest.Kind.ACCESS: "A copy of everything held",
    RightsRequest.Kind.RECTIFICATION: "Correct something that is wrong",
    RightsRequest.Kind.ERASURE: "Delete what the school does not need to keep",
    RightsRequest.Kind.RESTRICTION: "Stop using the data, other than keeping it, for now",
    RightsRequest.Kind.OBJECTION: "Object to how the data is used",
    RightsRequest.Kind.PORTABILITY: "A copy in a format another school or service can load",
}


class PortalRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label="What are you asking for?",
        choices=[(k.value, k.label) for k in PORTAL_KINDS],
        error_messages={"required": "Choose what you are asking for"},
    )
    about = forms.ChoiceField(label="Who is it about?", error_messages={"required": "Choose who the request is about"})
    note = forms.CharField(label="Anything the school should know", required=False, max_length=2000)

    def __init__(self, *args: object, choices: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        about = self.fields["about"]
        assert isinstance(about, forms.ChoiceField)  # noqa: S101 - declared just above; narrows the type
        about.choices = choices


@parent_required
def new_request(request: ParentRequest) -> HttpResponse:
    parent = request.parent
    subjects = request_subjects(parent)
    form = PortalRequestForm(posted(request), choices=[(s.value, s.label) for s in subjects])
    if request.method == "POST" and form.is_valid():
        try:
            logged = portal_request(parent=parent, **form.cleaned_data)
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            return render(request, "portal/rights_request_sent.html", {"logged": logged})
    kinds = [(k.value, k.label, KIND_HINTS[k]) for k in PORTAL_KINDS]
    context = {"form": form, "kinds": kinds, "subjects": subjects}
    return render(request, "portal/rights_request.html", context, status=400 if form.errors else 200)
