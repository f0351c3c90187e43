"""The processor records a recipient's request for a data flow (a request that arrived by email or
phone); the school then decides it like any other. Nothing is released until the school approves."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steward.audit.actor import actor_from_request
from steward.backoffice.access import processor_role_required
from steward.core.forms import add_refusal, posted
from steward.register.models import DataCategory, LawfulBasis, ProcessingActivity, Recipient
from steward.sharing import services
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope


class FlowRequestForm(forms.Form):
    school = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=Organisation.Kind.SCHOOL),
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    recipient = forms.ModelChoiceField(
        queryset=Recipient.objects.all(), widget=forms.Select(attrs={"class": "govuk-select"})
    )
    activity = forms.ModelChoiceField(
        queryset=ProcessingActivity.objects.all(), label="Service", widget=forms.Select(attrs={"class": "govuk-select"})
    )
    purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "class": "govuk-textarea"}))
    lawful_basis = forms.ChoiceField(choices=LawfulBasis.choices, widget=forms.Select(attrs={"class": "govuk-select"}))
    categories = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple(attrs={"class": "govuk-checkboxes__input"})
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["categories"].choices = [  # type: ignore[attr-defined]
            (c.code, c.name) for c in DataCategory.objects.order_by("code")
        ]


@processor_role_required(Role.PROCESSOR_ADMIN, Role.PROCESSOR_SUPPORT)
def record_flow_request(request: HttpRequest) -> HttpResponse:
    form = FlowRequestForm(posted(request))
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        school: Organisation = data["school"]
        try:
            with tenant_scope([school.id]):
                created = services.flow_request(
                    school=school,
                    recipient=data["recipient"],
                    activity=data["activity"],
                    purpose=data["purpose"],
                    lawful_basis=data["lawful_basis"],
                    categories=data["categories"],
                    actor=actor_from_request(request).labelled(f"{request.user} for {data['recipient'].name}"),
                )
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            form = FlowRequestForm()
    status = 400 if request.method == "POST" and created is None else 200
    return render(request, "backoffice/flow_request_form.html", {"form": form, "created": created}, status=status)
