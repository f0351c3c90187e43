"""Subject rights requests in the back office: log one, see what is due and what is overdue, and
answer one through the actions its type allows (each executed, and audited, by the rights services
through every app's privacy provider; the pages viewed are audited here)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from typing import IO, Any, cast

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from steward.audit.actor import Actor, actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, school_role_required
from steward.core.forms import add_refusal, posted
from steward.core.http import StewardRequest
from steward.register.providers import FoundPerson
from steward.rights import pdf_jobs, people, selectors, services
from steward.rights.deadlines import latest_extension
from steward.rights.models import AccessBundlePdf, RightsRequest
from steward.tenancy.models import Organisation, Role


class RequestForm(forms.Form):
    """Logging a request: the person is found by search and chosen, never typed as a record id."""

    person = forms.CharField(
        label="Who is the request about?",
        required=False,
        max_length=200,
        help_text="Search by name, UPN, date of birth (like 14/03/2015) or email address",
    )
    subject = forms.CharField(required=False, max_length=40)
    kind = forms.ChoiceField(
        label="What is being asked for?",
        choices=RightsRequest.Kind.choices,
        error_messages={"required": "Choose what is being asked for"},
    )
    requested_by = forms.CharField(
        label="Who made the request",
        max_length=200,
        help_text="The person themselves, or who acts for them (for example, a parent)",
        error_messages={"required": "Enter who made the request"},
    )
    requester_email = forms.EmailField(
        label="Their email address (optional)",
        required=False,
        help_text="The answer is emailed here; leave it empty to answer by post",
        error_messages={"invalid": "Enter an email address in the correct format, like name@example.com"},
    )
    received_on = forms.DateField(required=False, label="When was it received?")
    note = forms.CharField(
        label="What was asked for (for a rectification, the correction)",
        required=False,
        max_length=2000,
    )

    def clean(self) -> dict[str, Any]:
        """The received date comes as the GOV.UK date input's three boxes."""
        data = super().clean() or {}
        parts = [self.data.get(f"received_on-{p}", "").strip() for p in ("day", "month", "year")]
        if not any(parts):
            self.add_error("received_on", "Enter the date the request was received")
            return data
        try:
            day, month, year = (int(p) for p in parts)
            data["received_on"] = dt.date(year, month, day)
        except ValueError:
            self.add_error("received_on", "The date the request was received must be a real date, like 2 11 2026")
        return data


# The log form's free-text fields as the template lays them out: name, label, hint, input type.
TEXT_FIELDS = [
    (
        "requested_by",
        "Who made the request",
        "The person themselves, or who acts for them (for example, a parent)",
        "text",
    ),
    (
        "requester_email",
        "Their email address (optional)",
        "The answer is emailed here; leave it empty to answer by post",
        "email",
    ),
    ("note", "What was asked for (for a rectification, the correction)", "", "textarea"),
]


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_requests(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    form = RequestForm(posted(request))
    searching = request.POST.get("action") == "search"
    found: list[FoundPerson] = []
    if request.method == "POST":
        text = request.POST.get("person", "")
        if text.strip():
            found = people.find_people(school_id=school_id, text=text)
    if request.method == "POST" and not searching and form.is_valid():
        try:
            person = people.resolve(
                school_id=school_id, text=form.cleaned_data["person"], chosen=form.cleaned_data["subject"]
            )
            logged = services.request_log(
                school=Organisation.objects.get(pk=school_id),
                actor=actor_from_request(request),
                kind=form.cleaned_data["kind"],
                subject_kind=person.kind,
                subject_id=person.id,
                subject_label=person.name,
                requested_by=form.cleaned_data["requested_by"],
                requester_email=form.cleaned_data["requester_email"],
                received_on=form.cleaned_data["received_on"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as refused:
            add_refusal(form, refused, rename={"subject_id": "person", "subject_kind": "person"})
        else:
            return redirect(f"{reverse('backoffice:school-rights-request', args=[logged.id])}?logged=1")
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
    context = {
        "form": form,
        "errors": form.errors if request.method == "POST" and not searching else {},
        "found": [(people.token(p), p) for p in found],
        "searched": request.method == "POST" and bool(request.POST.get("person", "").strip()),
        "chosen": request.POST.get("subject", ""),
        "text_fields": TEXT_FIELDS,
        "date_parts": {p: request.POST.get(f"received_on-{p}", "") for p in ("day", "month", "year")},
        "requests": open_requests,
        "overdue": overdue,
        "today": today,
    }
    return render(request, "backoffice/rights.html", context, status=400 if context["errors"] else 200)


# --- One request: its history and the actions its type allows ----------------------------------

ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    RightsRequest.Kind.ACCESS: ("bundle", "withhold", "send", "no_data"),
    RightsRequest.Kind.PORTABILITY: ("portable",),
    RightsRequest.Kind.ERASURE: ("erase",),
    RightsRequest.Kind.RESTRICTION: ("restrict", "lift"),
    RightsRequest.Kind.RECTIFICATION: ("forward", "complete"),
    RightsRequest.Kind.OBJECTION: ("uphold", "reject", "lift"),
}
COMMON_ACTIONS = ("identity", "extend", "refuse")

# A request's history in words: its events are recorded by code, and no code reaches a page.
EVENT_LABELS = {
    "logged": "Request logged",
    "acknowledged": "Acknowledged to the requester; the DPO told",
    "identity_checked": "Identity checked",
    "extended": "Deadline extended",
    "downloaded": "Bundle downloaded to read",
    "withheld": "Part of the bundle withheld",
    "completed": "Completed",
    "sent_again": "Sent again",
    "refused": "Refused",
    "forwarded": "Forwarded to the MIS administrators",
    "objection_upheld": "Objection upheld",
    "objection_rejected": "Objection rejected",
    "restricted": "Processing restricted",
    "restriction_lifted": "Restriction lifted",
    "reminder_sent": "Reminder sent",
    "erased": "Erased",
}

# The success banner after each action (GOV.UK: say what happened, on the page that shows it).
DONE = {
    "identity": "Identity checked.",
    "extend": "Deadline extended.",
    "refuse": "Request refused.",
    "withhold": "That part is withheld and the reason recorded.",
    "send": "The answer is sent and the request is completed.",
    "no_data": "Decision recorded: we hold no data about this person. The requester is told.",
    "erase": "Erased.",
    "restrict": "Processing restricted.",
    "lift": "Restriction lifted.",
    "forward": "Correction forwarded to the MIS administrators.",
    "complete": "Request completed.",
    "uphold": "Objection upheld.",
    "reject": "Objection rejected.",
}


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
    elif action == "withhold":
        services.access_withhold(
            request=rights_request,
            section=post.get("withhold_section", ""),
            reason=post.get("withhold_reason", ""),
            actor=actor,
        )
    elif action in ("send", "no_data"):
        answer = services.access_send if action == "send" else services.access_no_data
        answer(request=rights_request, method=post.get("method", ""), email=post.get("email", ""), actor=actor)
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


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_request(request: StewardRequest, request_id: int) -> HttpResponse:
    rights_request = _load(request_id)
    allowed = COMMON_ACTIONS + ACTIONS_BY_KIND[rights_request.kind]
    errors: list[str] = []
    confirm_error = ""  # the erasure's confirmation box, marked and linked to when it was left unticked
    field_errors: dict[str, list[str]] = {}  # the review's fields, each message shown at its field
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
            field_errors = dict(by_field)
            rights_request = _load(request_id)
        else:
            if response is not None:
                # A streamed download: the access decorators type views as returning HttpResponse.
                return cast(HttpResponse, response)
            where = reverse("backoffice:school-rights-request", args=[rights_request.id])
            return redirect(f"{where}?done={action}")
    preview = None
    erasable = rights_request.kind == RightsRequest.Kind.ERASURE and rights_request.identity_checked
    if erasable and rights_request.status in selectors.OPEN:
        try:
            preview = services.erasure_preview(request=rights_request)
        except services.SubjectNotInSchool as refused:  # the subject has left the school since
            errors = errors or list(refused.messages)
    review = None
    if (
        rights_request.kind == RightsRequest.Kind.ACCESS
        and rights_request.identity_checked
        and rights_request.status in selectors.OPEN
    ):
        review = selectors.access_review(request=rights_request)
    audit_request(
        request,
        action="view",
        object_type="rights.RightsRequest",
        object_ids=[rights_request.id],
        purpose="subject rights",
    )
    done = request.GET.get("done", "")
    pdf_job = pdf_jobs.latest(rights_request) if rights_request.kind == RightsRequest.Kind.ACCESS else None
    context = {
        "review": review,
        "banner": DONE.get(done, "Request logged." if request.GET.get("logged") else ""),
        "field_errors": field_errors,
        "post": request.POST if request.method == "POST" else {},
        "r": rights_request,
        "events": [
            (EVENT_LABELS.get(e.action, e.action.replace("_", " ").capitalize()), e)
            for e in rights_request.events.all()
        ],
        "actions": set(allowed),
        "open": rights_request.status in selectors.OPEN,
        "overdue": rights_request.status in selectors.OPEN and rights_request.due < timezone.localdate(),
        "latest_extension": latest_extension(rights_request.received_on),
        "preview": preview,
        "errors": errors,
        "confirm_error": confirm_error,
        "pdf_job": pdf_job,
        "stalled": pdf_job is not None and pdf_jobs.stalled(pdf_job, now=timezone.now()),
        "advice": pdf_jobs.FAILED_ADVICE,
        "stalled_advice": pdf_jobs.STALLED_ADVICE,
    }
    return render(request, "backoffice/rights_request.html", context, status=400 if errors else 200)


# --- The bundle's PDF, made in the background after a download -------------------------------------


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_request_pdf(request: StewardRequest, request_id: int) -> HttpResponse:
    """The PDF's progress (GOV.UK: say it is being prepared, with a link to check again; no timed
    refresh, which axe and WCAG 2.2.1 refuse, and no script needed)."""
    rights_request = _load(request_id)
    job = pdf_jobs.latest(rights_request)
    audit_request(
        request,
        action="view",
        object_type="rights.RightsRequest",
        object_ids=[rights_request.id],
        purpose="subject rights",
    )
    pending = job is not None and job.status == AccessBundlePdf.Status.PENDING
    context = {
        "r": rights_request,
        "job": job,
        "pending": pending,
        "advice": pdf_jobs.FAILED_ADVICE,
        "stalled_advice": pdf_jobs.STALLED_ADVICE,
        "stalled": job is not None and pdf_jobs.stalled(job, now=timezone.now()),
    }
    return render(request, "backoffice/rights_request_pdf.html", context)


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_request_pdf_file(request: StewardRequest, request_id: int) -> HttpResponse:
    """The PDF, once made: it belongs to the bundle last downloaded, and says what that said."""
    rights_request = _load(request_id)
    job = pdf_jobs.latest(rights_request)
    if job is None or job.status != AccessBundlePdf.Status.READY:
        raise Http404("The PDF is not ready")
    data = AccessBundlePdf.objects.filter(pk=job.pk).values_list("pdf", flat=True).get()
    audit_request(
        request,
        action="export",
        object_type="rights.RightsRequest",
        object_ids=[rights_request.id],
        purpose="subject rights",
        detail={"files": ["bundle.pdf"]},
    )
    response = HttpResponse(bytes(data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="subject-access-{rights_request.id}.pdf"'
    return response
