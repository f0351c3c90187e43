"""The school's consents to investigation copies (give, withdraw, list), its data use agreements
(record, revoke, list), and a Steward user's own marketing preference. Every change is audited by
the consents services; every listing of the school's consents is audited here (a page view)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, school_role_required, staff_required
from steward.consents import selectors, services
from steward.consents.models import Consent, DataUseAgreement, MarketingPreference
from steward.consents.services import SPECIAL_CATEGORIES
from steward.core.forms import GovukDateWidget, add_refusal, posted
from steward.core.http import StewardRequest
from steward.mis.models import RECORD_MODELS
from steward.register.labels import category_label, record_type_label
from steward.tenancy.models import Organisation, Role, User

_SCHOOL_ROLES = (Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
_PURPOSE = "consents and agreements"


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(choices=Consent.Kind.choices, widget=forms.Select(attrs={"class": "govuk-select"}))
    recipient = forms.ChoiceField(
        label="Who receives the copy",
        choices=Consent.Recipient.choices,
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    vendor_name = forms.CharField(
        label="Vendor (for the MIS vendor)",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "govuk-input"}),
    )
    ticket_reference = forms.CharField(
        label="Ticket (for one ticket only)",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-10"}),
    )
    record_types = forms.MultipleChoiceField(
        label="Records the copy may hold",
        choices=[(m.record_type, record_type_label(m.record_type)) for m in RECORD_MODELS],
        widget=forms.CheckboxSelectMultiple,
    )
    expires_on = forms.DateField(
        label="Ends after (needed for one ticket)",
        required=False,
        widget=GovukDateWidget(),
    )


class AgreementForm(forms.Form):
    """A data use agreement the school has signed: what the copy may hold, for what, for whom, when."""

    record_types = forms.MultipleChoiceField(
        label="Records the pseudonymised copy may hold",
        choices=[(m.record_type, record_type_label(m.record_type)) for m in RECORD_MODELS],
        widget=forms.CheckboxSelectMultiple,
    )
    special_categories = forms.MultipleChoiceField(
        label="Special categories the copy may keep (left out unless chosen)",
        choices=[(c, category_label(c)) for c in sorted(SPECIAL_CATEGORIES)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    purpose = forms.CharField(
        label="What the copy is for", max_length=300, widget=forms.TextInput(attrs={"class": "govuk-input"})
    )
    recipient = forms.CharField(
        label="The ICT service's team that receives it",
        max_length=200,
        widget=forms.TextInput(attrs={"class": "govuk-input"}),
    )
    signed_by = forms.ModelChoiceField(
        label="Signed for the school by",
        queryset=User.objects.none(),
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    starts_on = forms.DateField(label="Starts on", widget=GovukDateWidget())
    expires_on = forms.DateField(label="Ends on", widget=GovukDateWidget())

    def __init__(self, *args: Any, school_id: int, **kwargs: Any) -> None:
        kwargs["prefix"] = "dua"
        super().__init__(*args, **kwargs)
        signed_by = self.fields["signed_by"]
        assert isinstance(signed_by, forms.ModelChoiceField)  # noqa: S101
        signed_by.queryset = (
            User.objects.filter(
                is_active=True, memberships__organisation_id=school_id, memberships__role__in=_SCHOOL_ROLES
            )
            .distinct()
            .order_by("full_name", "id")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, expires = data.get("starts_on"), data.get("expires_on")
        if starts and expires and expires <= starts:
            self.add_error("expires_on", "the agreement must end after it starts")
        return data


def _end_of(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


@school_role_required(*_SCHOOL_ROLES)
def school_consents(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    form = ConsentForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.consent_give(
                school=Organisation.objects.get(pk=school_id),
                given_by=request.user,  # type: ignore[arg-type]
                actor=actor_from_request(request),
                kind=data["kind"],
                recipient=data["recipient"],
                vendor_name=data["vendor_name"],
                ticket_reference=data["ticket_reference"],
                record_types=data["record_types"],
                expires_at=_end_of(data["expires_on"]),
            )
        except ValidationError as refused:
            add_refusal(form, refused, rename={"expires_at": "expires_on"})
        else:
            messages.success(request, "The consent is recorded.")
            return redirect("backoffice:school-consents")
    return _page(request, form, AgreementForm(school_id=school_id, initial={"signed_by": request.user.pk}))


def _page(request: StewardRequest, form: ConsentForm, agreement_form: AgreementForm) -> HttpResponse:
    school_id = chosen_school(request)
    now = timezone.now()
    consents = list(selectors.consents_for_school(school_id=school_id))
    agreements = list(selectors.agreements_for_school(school_id=school_id))
    audit_request(
        request,
        action="view",
        object_type="consents.Consent",
        object_ids=[c.id for c in consents],
        purpose=_PURPOSE,
    )
    return render(
        request,
        "backoffice/consents.html",
        {
            "form": form,
            "agreement_form": agreement_form,
            "consents": [(c, c.in_force_at(now)) for c in consents],
            "agreements": [(a, a.in_force_on(timezone.localdate())) for a in agreements],
        },
        status=400 if form.errors or agreement_form.errors else 200,
    )


@require_POST
@school_role_required(*_SCHOOL_ROLES)
def school_agreement_sign(request: StewardRequest) -> HttpResponse:
    """Record a data use agreement the school has signed (only under one is a pseudonymised copy made)."""
    school_id = chosen_school(request)
    form = AgreementForm(request.POST, school_id=school_id)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.agreement_sign(
                school=Organisation.objects.get(pk=school_id),
                signed_by=data["signed_by"],
                actor=actor_from_request(request),
                record_types=data["record_types"],
                special_categories=data["special_categories"],
                purpose=data["purpose"],
                recipient=data["recipient"],
                starts_on=data["starts_on"],
                expires_on=data["expires_on"],
            )
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            messages.success(request, "The data use agreement is recorded.")
            return redirect("backoffice:school-consents")
    return _page(request, ConsentForm(), form)


@require_POST
@school_role_required(*_SCHOOL_ROLES)
def school_agreement_revoke(request: StewardRequest, agreement_id: int) -> HttpResponse:
    agreement = get_object_or_404(DataUseAgreement, pk=agreement_id, school_id=chosen_school(request))
    services.agreement_revoke(agreement=agreement, actor=actor_from_request(request))
    messages.success(request, "The agreement is revoked: no new pseudonymised copy can be made under it.")
    return redirect("backoffice:school-consents")


@require_POST
@school_role_required(*_SCHOOL_ROLES)
def school_consent_withdraw(request: StewardRequest, consent_id: int) -> HttpResponse:
    consent = get_object_or_404(Consent, pk=consent_id, school_id=chosen_school(request))
    services.consent_withdraw(
        consent=consent,
        withdrawn_by=request.user,  # type: ignore[arg-type]
        actor=actor_from_request(request),
    )
    messages.success(request, "The consent is withdrawn.")
    return redirect("backoffice:school-consents")


@staff_required
def account_marketing(request: StewardRequest) -> HttpResponse:
    """A Steward user's own choice about the ICT service's news: nothing is sent without an opt-in."""
    user: User = request.user  # type: ignore[assignment]
    channel = MarketingPreference.Channel.EMAIL
    if request.method == "POST":
        opted_in = request.POST.get("email") == "yes"
        services.marketing_preference_set(
            user=user,
            channel=channel,
            opted_in=opted_in,
            source=MarketingPreference.Source.ACCOUNT_PAGE,
            actor=actor_from_request(request),
        )
        return redirect("/account/marketing/?saved=1")
    current = selectors.marketing_preference(user=user, channel=channel)
    return render(
        request,
        "backoffice/account_marketing.html",
        {"current": current, "saved": request.GET.get("saved") == "1"},
    )
