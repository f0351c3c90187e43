"""Monitoring in the back office: a school's alerts (its admins and DPO), the processor's "All alerts"
(its administrators), one alert with its evidence and status forms, and the breach record an alert
resolved as an incident can start. Thin: `monitoring.alerts` and `monitoring.breach` decide and audit."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.forms import add_refusal
from steward.core.http import StewardRequest
from steward.monitoring import alerts as alert_services
from steward.monitoring import breach as breach_services
from steward.monitoring import selectors
from steward.monitoring.models import Alert, AlertStatus, IcoDecision
from steward.monitoring.rules import RULE_BY_NAME
from steward.tenancy.models import SCHOOL_ROLES, Role
from steward.tenancy.scope import estate_scope, processor_scope

_STATUSES = [("", "Any"), *AlertStatus.choices]


class StatusForm(forms.Form):
    action = forms.ChoiceField(
        label="What do you want to do?",
        choices=[
            ("acknowledge", "Acknowledge: I am looking into it"),
            ("resolve_expected", "Resolve: this was expected behaviour"),
            ("resolve_incident", "Resolve: this was an incident"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what you want to do with the alert"},
    )
    note = forms.CharField(
        label="Note",
        help_text="Why it was expected, or what the incident was. Needed to resolve.",
        required=False,
        max_length=alert_services.NOTE_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 4}),
    )


class BreachForm(forms.Form):
    what_happened = forms.CharField(
        label="What happened",
        max_length=breach_services.TEXT_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 5}),
        error_messages={"required": "Enter what happened"},
    )
    aware_at = forms.DateTimeField(
        label="When the school became aware (YYYY-MM-DD HH:MM, UK time)",
        input_formats=["%Y-%m-%d %H:%M"],
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-20"}),
        error_messages={
            "required": "Enter when the school became aware, like 2026-11-30 14:05",
            "invalid": "Enter when the school became aware as a date and time, like 2026-11-30 14:05",
        },
    )
    ico_decision = forms.ChoiceField(
        label="Must the ICO be told?",
        choices=IcoDecision.choices,
        initial=IcoDecision.UNDECIDED,
        widget=forms.Select(attrs={"class": "govuk-select"}),
    )
    ico_reason = forms.CharField(
        label="Why (needed once decided)",
        required=False,
        max_length=breach_services.TEXT_MAX,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 3}),
    )


def _rule(alert: Alert) -> dict[str, str]:
    rule = RULE_BY_NAME.get(alert.rule)
    return {"title": rule.title, "description": rule.description} if rule else {"title": alert.rule, "description": ""}


@school_role_required(*SCHOOL_ROLES)
def school_alerts(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    status = request.GET.get("status", "")
    status = status if status in AlertStatus.values else ""
    alerts = list(selectors.school_alerts(school_id=school_id, status=status)[:200])
    rows = [{"alert": a, "rule": _rule(a)} for a in alerts]
    if alerts:
        audit_request(
            request,
            action="view",
            object_type="monitoring.Alert",
            object_ids=[a.pk for a in alerts],
            purpose="security monitoring",
        )
    context = {"rows": rows, "status": status, "statuses": _STATUSES, "scope": "school"}
    return render(request, "backoffice/alerts.html", context)


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_alerts(request: StewardRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in AlertStatus.values else ""
    with estate_scope(), processor_scope():
        alerts = list(selectors.all_alerts(status=status)[:200])
        rows = [{"alert": a, "rule": _rule(a)} for a in alerts]
        if alerts:
            audit_request(
                request,
                action="view",
                object_type="monitoring.Alert",
                object_ids=[a.pk for a in alerts],
                purpose="security monitoring",
            )
    context = {"rows": rows, "status": status, "statuses": _STATUSES, "scope": "processor"}
    return render(request, "backoffice/alerts.html", context)


def _alert_page(request: StewardRequest, alert: Alert, scope: str) -> HttpResponse:
    # A school's alert is the school's to decide (it is the controller: whether it was expected, or
    # an incident it may have to report); the processor decides the alerts of no school.
    decides = scope == "school" or alert.school_id is None
    form = StatusForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not decides:
        form.is_valid()
        form.add_error(
            None, "This alert is the school's to decide: its administrators and DPO acknowledge and resolve it"
        )
    elif request.method == "POST" and form.is_valid():
        action, note = form.cleaned_data["action"], form.cleaned_data["note"]
        confirmed = request.POST.get("confirm") == "yes"
        if action.startswith("resolve") and note.strip() and not confirmed:
            context = {
                "alert": alert,
                "rule": _rule(alert),
                "action": action,
                "note": note,
                "scope": scope,
                "resolution": dict(StatusForm.base_fields["action"].choices)[action],  # type: ignore[attr-defined]
            }
            return render(request, "backoffice/alert_confirm.html", context)
        try:
            alert_services.alert_change(alert=alert, action=action, note=note, actor=actor_from_request(request))
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            messages.success(request, f"The alert is now: {alert.get_status_display().lower()}.")
            name = "backoffice:school-alert" if scope == "school" else "backoffice:processor-alert"
            return redirect(name, alert_id=alert.pk)
    audit_request(
        request, action="view", object_type="monitoring.Alert", object_ids=[alert.pk], purpose="security monitoring"
    )
    context = {
        "alert": alert,
        "rule": _rule(alert),
        "form": form,
        "error_forms": [form] if form.errors else [],
        "evidence": selectors.evidence(alert),
        "breach": selectors.breach_of(alert) if alert.school_id else None,
        "scope": scope,
        "decides": decides,
    }
    return render(request, "backoffice/alert.html", context, status=400 if form.errors else 200)


@school_role_required(*SCHOOL_ROLES)
def school_alert(request: StewardRequest, alert_id: int) -> HttpResponse:
    alert = selectors.school_alert(school_id=chosen_school(request), alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert at this school")
    return _alert_page(request, alert, "school")


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_alert(request: StewardRequest, alert_id: int) -> HttpResponse:
    with estate_scope(), processor_scope():
        alert = selectors.all_alerts().filter(pk=alert_id).first()
        if alert is None:
            raise Http404("No such alert")
        return _alert_page(request, alert, "processor")


@school_role_required(*SCHOOL_ROLES)
def school_breach(request: StewardRequest, alert_id: int) -> HttpResponse:
    """Start the breach record of an alert resolved as an incident, or view and edit it."""
    alert = selectors.school_alert(school_id=chosen_school(request), alert_id=alert_id)
    if alert is None or alert.status != AlertStatus.RESOLVED_INCIDENT:
        raise Http404("No alert resolved as an incident with this number at this school")
    breach = selectors.breach_of(alert)
    local_now = timezone.localtime()
    initial = {
        "aware_at": timezone.localtime(breach.aware_at if breach else (alert.changed_at or local_now)).strftime(
            "%Y-%m-%d %H:%M"
        ),
        "what_happened": breach.what_happened if breach else alert.note,
        "ico_decision": breach.ico_decision if breach else IcoDecision.UNDECIDED,
        "ico_reason": breach.ico_reason if breach else "",
    }
    form = BreachForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        aware: dt.datetime = data["aware_at"]
        actor = actor_from_request(request)
        try:
            # One savepoint: a start whose details are then refused leaves no half-made record.
            with transaction.atomic():
                started = breach or breach_services.breach_start(
                    alert=alert, what_happened=data["what_happened"], aware_at=aware, actor=actor
                )
                breach = breach_services.breach_update(
                    breach=started,
                    what_happened=data["what_happened"],
                    aware_at=aware,
                    ico_decision=data["ico_decision"],
                    ico_reason=data["ico_reason"],
                    actor=actor,
                )
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            messages.success(request, "The breach record is saved.")
            return redirect("backoffice:school-alert-breach", alert_id=alert.pk)
    if breach is not None:
        audit_request(
            request,
            action="view",
            object_type="monitoring.Breach",
            object_ids=[breach.pk],
            purpose="personal data breach record",
        )
    left = breach_services.time_left(breach) if breach else None
    context = {
        "alert": alert,
        "breach": breach,
        "form": form,
        "error_forms": [form] if form.errors else [],
        "left_hours": int(left.total_seconds() // 3600) if left is not None else None,
        "left_minutes": int(left.total_seconds() % 3600 // 60) if left is not None else None,
        "overdue": left is not None and left.total_seconds() < 0,
    }
    return render(request, "backoffice/breach.html", context, status=400 if form.errors else 200)
