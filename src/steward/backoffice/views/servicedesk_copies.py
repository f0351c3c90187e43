"""Investigation copies in the back office: the processor's staff ask for one on a ticket; the school's
admin or DPO approves it (after a confirmation page that says what will be copied, for whom, and
whether names stay), narrows it, refuses it, or withdraws its consent to a live one. Thin:
`servicedesk.copies` decides, writes, audits and makes or destroys the copy."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from steward.audit.actor import actor_from_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.forms import add_refusal, posted
from steward.core.http import StewardRequest
from steward.mis.models import RECORD_MODELS
from steward.register.labels import record_type_label
from steward.servicedesk import copies, selectors
from steward.servicedesk.models import CopyRecipient, CopyStatus, InvestigationCopy
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES
from steward.tenancy.scope import tenant_scope

_TYPES = [(m.record_type, record_type_label(m.record_type)) for m in RECORD_MODELS]


class CopyRequestForm(forms.Form):
    reason = forms.CharField(
        label="Why does the investigation need a copy?",
        max_length=copies.REASON_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 4}),
        error_messages={"required": "Enter why the investigation needs a copy"},
    )
    record_types = forms.MultipleChoiceField(
        label="Which MIS records",
        choices=_TYPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one type of MIS record"},
    )
    recipient = forms.ChoiceField(
        label="Who will see the copy",
        choices=CopyRecipient.choices,
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    vendor_name = forms.CharField(
        label="The MIS vendor (when the vendor will see it)",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "govuk-input"}),
    )
    identities_requested = forms.BooleanField(
        label="The fault needs real names and identifiers",
        required=False,
        help_text="The copy is pseudonymised unless the school allows real identities for this ticket.",
    )


class ApproveForm(forms.Form):
    record_types = forms.MultipleChoiceField(
        label="Records you allow in the copy (untick any to narrow it)",
        choices=_TYPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one type of MIS record, or refuse the request"},
    )
    real_identities = forms.BooleanField(
        label="Keep real names and identifiers in the copy",
        required=False,
        help_text="Leave unticked and the copy is pseudonymised.",
    )


class RefuseForm(forms.Form):
    refusal_reason = forms.CharField(
        label="Why are you refusing?",
        max_length=copies.REASON_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 3}),
        error_messages={"required": "Enter why you are refusing"},
    )


@processor_role_required(*PROCESSOR_ROLES)
def processor_copy_new(request: StewardRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.processor_ticket(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such request for assistance")
    form = CopyRequestForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            with tenant_scope([ticket.school_id]):
                copy = copies.copy_request(ticket=ticket, actor=actor_from_request(request), **form.cleaned_data)
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            done = "approved by the school's standing consent" if copy.consent_id else "sent to the school to decide"
            messages.success(request, f"Investigation copy {copy.reference} {done}.")
            return redirect("backoffice:processor-service-desk-ticket", ticket_id=ticket.pk)
    status = 400 if form.errors else 200
    return render(request, "backoffice/service_desk_copy_new.html", {"ticket": ticket, "form": form}, status=status)


def _approve(request: StewardRequest, copy: InvestigationCopy, form: ApproveForm) -> HttpResponse | None:
    """The first post shows the confirmation page; the second (confirm=yes) approves."""
    if request.POST.get("confirm") != "yes":
        chosen = [label for value, label in _TYPES if value in form.cleaned_data["record_types"]]
        context = {"copy": copy, "form": form, "chosen": chosen}
        return render(request, "backoffice/service_desk_copy_confirm.html", context)
    with tenant_scope([copy.school_id]):
        copies.copy_approve(copy=copy, actor=actor_from_request(request), **form.cleaned_data)
    messages.success(request, f"{copy.reference} is approved and the copy is made.")
    return None


@school_role_required(*SCHOOL_ROLES)
def school_copy(request: StewardRequest, ticket_id: int, copy_id: int) -> HttpResponse:
    """One request for a copy: what, why, for whom; approve, narrow, refuse, or withdraw consent."""
    chosen_school(request)
    copy = selectors.school_copy(ticket_id=ticket_id, copy_id=copy_id)
    if copy is None:
        raise Http404("No such investigation copy at this school")
    action = request.POST.get("action", "")
    approve = ApproveForm(
        request.POST if action == "approve" else None,
        initial={"record_types": copy.requested_types, "real_identities": False},
    )
    refuse = RefuseForm(request.POST if action == "refuse" else None)
    if request.method == "POST":
        try:
            if action == "approve" and approve.is_valid():
                shown = _approve(request, copy, approve)
                if shown is not None:
                    return shown
                return redirect("backoffice:school-service-desk-copy", ticket_id=ticket_id, copy_id=copy.pk)
            if action == "refuse" and refuse.is_valid():
                copies.copy_refuse(
                    copy=copy, reason=refuse.cleaned_data["refusal_reason"], actor=actor_from_request(request)
                )
                messages.success(request, f"{copy.reference} is refused; the ICT service is told on the ticket.")
                return redirect("backoffice:school-service-desk-copy", ticket_id=ticket_id, copy_id=copy.pk)
            if action == "withdraw":
                copies.copy_withdraw(copy=copy, actor=actor_from_request(request))
                messages.success(request, f"Consent withdrawn: {copy.reference} is destroyed.")
                return redirect("backoffice:school-service-desk-copy", ticket_id=ticket_id, copy_id=copy.pk)
            if action not in ("approve", "refuse"):
                raise Http404("No such action")
        except ValidationError as refused:
            add_refusal(refuse if action == "refuse" else approve, refused)
    errors = [f for f in (approve, refuse) if f.errors]
    labels = dict(_TYPES)
    context = {
        "copy": copy,
        "approve": approve,
        "refuse": refuse,
        "error_forms": errors,
        "requested": [labels.get(t, t) for t in copy.requested_types],
        "approved": [labels.get(t, t) for t in copy.approved_types],
        "pending": copy.status == CopyStatus.REQUESTED,
        "live": copy.status == CopyStatus.LIVE,
    }
    return render(request, "backoffice/service_desk_copy.html", context, status=400 if errors else 200)
