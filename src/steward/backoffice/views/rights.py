"""Subject rights requests in the back office: log one, see what is due and what is overdue."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from steward.audit.services import audit_request
from steward.backoffice.access import school_role_required
from steward.rights import selectors, services
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


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
def rights_requests(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            logged = services.request_log(
                school=Organisation.objects.get(pk=request.school_id),  # type: ignore[attr-defined]
                actor_label=str(request.user),
                **form.cleaned_data,
            )
        except ValidationError as refused:
            for field, messages in refused.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            audit_request(
                request,
                action="rights_request_logged",
                object_type="rights.RightsRequest",
                object_ids=[logged.id],
                purpose="subject rights",
            )
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
