"""A school's directories: what Steward will change in each and why, the brake, and the letters.

School admins set targets up, make and apply plans, confirm a plan the brake held, and print new
pupils' initial passwords (once). The DPO may read everything. Applying happens in the background
after the page's transaction commits (it talks to the directory account by account); the page says
so and the run's outcome is read on the target's page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from steward.audit.actor import actor_from_request
from steward.backoffice.access import chosen_school, school_role_required
from steward.core.forms import add_refusal, posted
from steward.core.pdf import html_to_pdf
from steward.provisioning import selectors, services
from steward.provisioning.models import ProvisioningRun, ProvisioningTarget
from steward.provisioning.tasks import apply_after_commit
from steward.sharing.models import DataFlow
from steward.tenancy.models import Role

READERS = (Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
ADMINS = (Role.SCHOOL_ADMIN,)


class TargetForm(forms.ModelForm):  # type: ignore[type-arg]
    # The choices are the school's own approved flows, read per request inside its tenant scope
    # (a class-level queryset would query tenant rows at import time).
    flow: forms.ModelChoiceField = forms.ModelChoiceField(queryset=None, label="Approved data flow")  # type: ignore[type-arg]
    credential = forms.CharField(
        label="Token or password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The SCIM bearer token, or the AD account's password. Leave empty to keep the one saved.",
    )
    year_groups_text = forms.CharField(
        label="Year groups (optional)",
        required=False,
        help_text="Separate with commas, e.g. 7, 8, 9. Leave empty for every year group.",
    )

    class Meta:
        model = ProvisioningTarget
        fields = [
            "name",
            "flow",
            "kind",
            "endpoint",
            "bind_user",
            "base_dn",
            "start_tls",
            "ca_file",
            "people",
            "domain",
            "staff_naming",
            "learner_naming",
            "staff_container",
            "learner_container",
            "leavers_container",
            "staff_groups",
            "learner_groups",
            "initial_passwords",
            "brake_percent",
            "paused",
        ]
        labels = {
            "name": "Short name",
            "flow": "Approved data flow",
            "kind": "Kind of directory",
            "endpoint": "Address",
            "bind_user": "AD account Steward signs in as",
            "base_dn": "AD base DN",
            "start_tls": "Use StartTLS (for ldap:// addresses)",
            "ca_file": "AD: certificate authority file (optional)",
            "people": "Who gets an account",
            "domain": "Sign-in domain",
            "staff_naming": "Staff account names",
            "learner_naming": "Pupil account names",
            "staff_container": "Staff OU",
            "learner_container": "Pupils' OU",
            "leavers_container": "Leavers' OU",
            "staff_groups": "Staff groups",
            "learner_groups": "Pupils' groups",
            "initial_passwords": "Give new pupils an initial password to print",
            "brake_percent": "Hold a plan that disables or deletes more than this % of accounts",
            "paused": "Paused (send nothing)",
        }
        help_texts = {
            "staff_naming": "Placeholders: {forename} {surname} {initial} {n} {domain} {role}",
            "learner_naming": "Placeholders: {forename} {surname} {initial} {n} {domain} {admission_year} "
            "{admission_yy} {year} {registration}",
            "learner_groups": "One group per line; {year} and {registration} are filled in per pupil",
        }

    def __init__(self, *args: Any, flows: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["flow"].queryset = DataFlow.objects.filter(pk__in=[f.pk for f in flows])  # type: ignore[attr-defined]
        self.fields["flow"].label_from_instance = lambda f: f"{f.recipient.name}: {f.purpose[:60]}"  # type: ignore[attr-defined]
        for field in self.fields.values():
            widget = field.widget
            css = {"Textarea": "govuk-textarea", "Select": "govuk-select", "CheckboxInput": "govuk-checkboxes__input"}
            widget.attrs["class"] = css.get(type(widget).__name__, "govuk-input")
            if isinstance(widget, forms.Textarea):
                widget.attrs["rows"] = 3
        if self.instance.pk:
            self.fields["year_groups_text"].initial = ", ".join(self.instance.year_groups)

    def clean_year_groups_text(self) -> list[str]:
        return [y.strip().upper() for y in self.cleaned_data["year_groups_text"].split(",") if y.strip()]


@school_role_required(*READERS)
def provisioning_home(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/provisioning/home.html", {"rows": selectors.targets_for_school()})


def _target(target_id: int) -> ProvisioningTarget:
    target = selectors.target_for_school(target_id=target_id)
    if target is None:
        raise Http404("No such directory for this school")
    return target


@school_role_required(*READERS)
def provisioning_target(request: HttpRequest, target_id: int) -> HttpResponse:
    target = _target(target_id)
    run = selectors.latest_run(target)
    context = {
        "target": target,
        "run": run,
        "changes": selectors.plan_rows(run) if run else [],
        "runs": selectors.recent_runs(target),
        "letters": selectors.letters_waiting(target),
        "can_act": Role.SCHOOL_ADMIN in request.school_roles,  # type: ignore[attr-defined]
    }
    return render(request, "backoffice/provisioning/target.html", context)


@school_role_required(*ADMINS)
def provisioning_target_edit(request: HttpRequest, target_id: int | None = None) -> HttpResponse:
    instance = _target(target_id) if target_id else ProvisioningTarget(school_id=chosen_school(request))  # type: ignore[arg-type]
    flows = selectors.approved_flows_for_provisioning() + ([instance.flow] if instance.pk else [])
    form = TargetForm(posted(request), instance=instance, flows=flows)
    if form.is_valid():
        target = form.save(commit=False)
        target.year_groups = form.cleaned_data["year_groups_text"]
        try:
            services.target_save(
                target=target, credential=form.cleaned_data["credential"], actor=actor_from_request(request)
            )
        except ValidationError as refused:
            add_refusal(form, refused)  # type: ignore[arg-type]
        else:
            messages.success(
                request, f"The directory {target.name} is saved. Make a plan to see what Steward would change."
            )
            return redirect("backoffice:school-provisioning-target", target_id=target.pk)
    status = 400 if form.is_bound else 200
    return render(
        request,
        "backoffice/provisioning/target_form.html",
        {"form": form, "target": instance if instance.pk else None},
        status=status,
    )


@require_POST
@school_role_required(*ADMINS)
def provisioning_plan(request: HttpRequest, target_id: int) -> HttpResponse:
    target = _target(target_id)
    try:
        run = services.plan_make(
            target=target, trigger=ProvisioningRun.Trigger.MANUAL, actor=actor_from_request(request)
        )
    except services.RunRefused as exc:
        messages.error(request, f"No plan was made: {exc}")
        return redirect("backoffice:school-provisioning-target", target_id=target.pk)
    total = sum(run.counts.values())
    if run.status == ProvisioningRun.Status.HELD:
        messages.warning(request, "The plan is held: it removes more accounts than the school allows without a check.")
    else:
        messages.success(
            request, f"Plan made: {total} change{'s' if total != 1 else ''}. Nothing is sent until you apply it."
        )
    return redirect("backoffice:school-provisioning-target", target_id=target.pk)


def _run(target_id: int, run_id: int) -> ProvisioningRun:
    run = selectors.run_for_school(run_id=run_id)
    if run is None or run.target_id != target_id:
        raise Http404("No such plan for this directory")
    return run


@school_role_required(*ADMINS)
def provisioning_apply(request: HttpRequest, target_id: int, run_id: int) -> HttpResponse:
    """GET: what applying will do, in words, with the brake's reason if held. POST: confirm and apply."""
    run = _run(target_id, run_id)
    context = {"run": run, "target": run.target, "changes": selectors.plan_rows(run)[:50], "error": ""}
    if request.method == "POST":
        actor = actor_from_request(request)
        try:
            if run.status == ProvisioningRun.Status.HELD:
                if request.POST.get("confirm") != "yes":
                    context["error"] = "Tick the box to confirm that these accounts should be disabled or deleted."
                    return render(request, "backoffice/provisioning/apply.html", context, status=400)
                run = services.plan_confirm(run=run, actor=actor)
            elif run.status != ProvisioningRun.Status.PLANNED:
                raise services.RunRefused(f"this plan is {run.get_status_display().lower()}")
        except services.RunRefused as exc:
            messages.error(request, f"Nothing was applied: {exc}")
            return redirect("backoffice:school-provisioning-target", target_id=target_id)
        apply_after_commit(run, actor.label)
        messages.success(request, "The plan is being applied. The outcome of each account change appears below.")
        return redirect("backoffice:school-provisioning-target", target_id=target_id)
    if run.status not in (ProvisioningRun.Status.PLANNED, ProvisioningRun.Status.HELD):
        raise Http404("This plan can no longer be applied")
    return render(request, "backoffice/provisioning/apply.html", context)


@require_POST
@school_role_required(*ADMINS)
def provisioning_discard(request: HttpRequest, target_id: int, run_id: int) -> HttpResponse:
    run = _run(target_id, run_id)
    try:
        services.plan_discard(run=run, actor=actor_from_request(request))
    except services.RunRefused as exc:
        messages.error(request, f"Nothing was discarded: {exc}")
    else:
        messages.success(request, "The plan was discarded. Nothing was sent to the directory.")
    return redirect("backoffice:school-provisioning-target", target_id=target_id)


@school_role_required(*ADMINS)
def provisioning_letters(request: HttpRequest, target_id: int) -> HttpResponse:
    """GET: which group's letters, and the warning that they print once. POST: the PDF, passwords deleted."""
    target = _target(target_id)
    waiting = dict(selectors.letters_waiting(target))
    group = request.POST.get("group", request.GET.get("group", ""))
    if group not in waiting:
        if request.method == "POST":
            messages.error(request, "There are no letters waiting for that group; they may have been printed already.")
            return redirect("backoffice:school-provisioning-target", target_id=target.pk)
        raise Http404("No letters waiting for that group")
    if request.method != "POST":
        return render(
            request, "backoffice/provisioning/letters.html", {"target": target, "group": group, "count": waiting[group]}
        )
    letters = services.letters_take(school_id=target.school_id, group=group, actor=actor_from_request(request))
    html = render_to_string("backoffice/provisioning/letters_pdf.html", {"letters": letters, "target": target})
    response = HttpResponse(html_to_pdf(html), content_type="application/pdf")
    safe = "".join(c if c.isalnum() else "-" for c in group)
    response["Content-Disposition"] = f'attachment; filename="initial-passwords-{safe}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
