"""Support access in the back office: the processor's staff ask for time-boxed access on a ticket (a
processor admin may start it at once for a named incident); the school's admin or DPO approves it
after a confirmation page, refuses it, revokes it, confirms an emergency one, and sees every past
grant with the list of what was read. Thin: `servicedesk.support` decides, writes and audits."""

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
from steward.servicedesk import selectors, support
from steward.servicedesk.models import GrantStatus, SupportGrant
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES, User
from steward.tenancy.scope import tenant_scope

_SCOPES = [*support.AREAS.items(), *((m.record_type, record_type_label(m.record_type)) for m in RECORD_MODELS)]
_HOURS = [(str(h), f"{h} hour{'s' if h > 1 else ''}") for h in range(1, support.MAX_MINUTES // 60 + 1)]


class GrantRequestForm(forms.Form):
    reason = forms.CharField(
        label="Why does the ticket need access to the school's data?",
        max_length=support.REASON_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 4}),
        error_messages={"required": "Enter why the ticket needs access to the school's data"},
    )
    scope = forms.MultipleChoiceField(
        label="What you need to see",
        choices=_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one area or type of MIS record"},
    )
    hours = forms.TypedChoiceField(
        label="For how long",
        choices=_HOURS,
        coerce=int,
        initial="1",
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    incident_category = forms.ChoiceField(
        label="Emergency: start now for an incident (processor administrators only)",
        choices=[("", "No: ask the school first"), *support.INCIDENT_CATEGORIES.items()],
        required=False,
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )


class RefuseForm(forms.Form):
    refusal_reason = forms.CharField(
        label="Why are you refusing?",
        max_length=support.REASON_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 3}),
        error_messages={"required": "Enter why you are refusing"},
    )


@processor_role_required(*PROCESSOR_ROLES)
def processor_grant_new(request: StewardRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.processor_ticket(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such request for assistance")
    form = GrantRequestForm(posted(request))
    user: User = request.user  # type: ignore[assignment]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        terms = {"reason": data["reason"], "scope": data["scope"], "duration_minutes": data["hours"] * 60}
        try:
            with tenant_scope([ticket.school_id]):
                if data["incident_category"]:
                    grant = support.grant_emergency(
                        ticket=ticket,
                        user=user,
                        incident_category=data["incident_category"],
                        actor=actor_from_request(request),
                        **terms,
                    )
                else:
                    grant = support.grant_request(ticket=ticket, user=user, actor=actor_from_request(request), **terms)
        except ValidationError as refused:
            add_refusal(form, refused, rename={"duration_minutes": "hours"})
        except PermissionError as refused:
            form.add_error("incident_category", str(refused))
        else:
            done = "started: the school is told now" if grant.emergency_category else "sent to the school to decide"
            messages.success(request, f"Support access {grant.reference} {done}.")
            return redirect("backoffice:processor-service-desk-ticket", ticket_id=ticket.pk)
    status = 400 if form.errors else 200
    return render(request, "backoffice/support_access_new.html", {"ticket": ticket, "form": form}, status=status)


@school_role_required(*SCHOOL_ROLES)
def school_grants(request: StewardRequest) -> HttpResponse:
    """Every grant the school was asked for, with its status and when it ran."""
    chosen_school(request)
    return render(request, "backoffice/support_access_list.html", {"grants": selectors.school_grants()})


def _act(request: StewardRequest, grant: SupportGrant, action: str, refuse: RefuseForm) -> HttpResponse | None:
    user: User = request.user  # type: ignore[assignment]
    actor = actor_from_request(request)
    if action == "approve":
        if request.POST.get("confirm") != "yes":
            return render(request, "backoffice/support_access_confirm.html", {"grant": grant})
        support.grant_approve(grant=grant, user=user, actor=actor)
        messages.success(request, f"{grant.reference} is approved: access is open until {grant.ends_at:%H:%M}.")
    elif action == "refuse":
        if not refuse.is_valid():
            return None
        support.grant_refuse(grant=grant, user=user, reason=refuse.cleaned_data["refusal_reason"], actor=actor)
        messages.success(request, f"{grant.reference} is refused; the ICT service is told.")
    elif action == "revoke":
        support.grant_revoke(grant=grant, user=user, actor=actor)
        messages.success(request, f"{grant.reference} is revoked: access has ended.")
    elif action == "confirm":
        support.grant_confirm(grant=grant, user=user, actor=actor)
        messages.success(request, f"You confirmed the emergency access {grant.reference}.")
    else:
        raise Http404("No such action")
    return redirect("backoffice:school-support-access-grant", grant_id=grant.pk)


@school_role_required(*SCHOOL_ROLES)
def school_grant(request: StewardRequest, grant_id: int) -> HttpResponse:
    """One grant: who, why, what, when; approve, refuse, revoke or confirm; and what was read."""
    chosen_school(request)
    grant = selectors.school_grant(grant_id=grant_id)
    if grant is None:
        raise Http404("No such support access at this school")
    action = request.POST.get("action", "")
    refuse = RefuseForm(request.POST if action == "refuse" else None)
    if request.method == "POST":
        try:
            shown = _act(request, grant, action, refuse)
            if shown is not None:
                return shown
        except ValidationError as refused:
            add_refusal(refuse, refused)
        except PermissionError as refused:
            refuse.add_error(None, str(refused))
    context = {
        "grant": grant,
        "refuse": refuse,
        "error_forms": [refuse] if refuse.errors else [],
        "scope": [dict(_SCOPES).get(s, s) for s in grant.scope],
        "reads": support.grant_reads(grant) if grant.starts_at else [],
        "pending": grant.status == GrantStatus.REQUESTED,
        "active": grant.status == GrantStatus.ACTIVE,
        "to_confirm": bool(grant.emergency_category) and grant.confirmed_at is None,
        "incident": support.INCIDENT_CATEGORIES.get(grant.emergency_category, ""),
    }
    return render(request, "backoffice/support_access.html", context, status=400 if refuse.errors else 200)
