"""The service desk's pages: a school's staff raise requests for assistance and follow their thread;
the processor's staff work the queue across schools. Thin: `servicedesk.services` decides, writes
and audits; `servicedesk.selectors` reads (the processor's through `estate_scope`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.forms import add_refusal, posted
from steward.core.http import StewardRequest
from steward.core.listing import kept_filters
from steward.servicedesk import attachments as files
from steward.servicedesk import calendar, scanner, selectors, services
from steward.servicedesk.models import Category, CopyStatus, Status, Ticket, TicketAttachment, Urgency
from steward.servicedesk.selectors import QueueFilter
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES, Organisation, User
from steward.tenancy.scope import tenant_scope

_SELECT = {"class": "govuk-select"}
_TEXTAREA = {"class": "govuk-textarea", "rows": 5}

EVENT_WORDS = {
    "raised": "Raised",
    "attachment": "Attachment",
    "status": "Status changed",
    "category": "Category changed",
    "urgency": "Urgency changed",
    "assigned": "Assigned",
}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


def _files_field() -> forms.Field:
    """The GOV.UK file upload; the files themselves are read from `request.FILES` and checked by the
    service (so a refusal names each file and sits on this field)."""
    return forms.Field(
        label="Attachments (optional)",
        required=False,
        help_text=f"Up to {files.MAX_PER_POST} files at a time, each smaller than "
        f"{files.MAX_BYTES // (1024 * 1024)} MB: {scanner.ALLOWED_WORDS}. "
        "Screenshots help; files with pupils' details do not.",
        widget=MultipleFileInput(attrs={"class": "govuk-file-upload"}),
    )


def _uploads(request: StewardRequest) -> list[files.Upload]:
    return files.read_uploads(request.FILES.getlist("attachments"))


def _warn_about_text(request: StewardRequest, text: str) -> None:
    """Personal data in what was typed is kept as written, but the writer is told (it is not blocked)."""
    warning = files.text_warning(text)
    if warning:
        messages.warning(
            request,
            warning + "The service desk does not need pupils', parents' or staff members' details: "
            "if you did not mean to send them, tell the service desk in a reply.",
        )


class RaiseForm(forms.Form):
    category = forms.ChoiceField(
        label="What is it about?",
        choices=[("", "Choose one"), *Category.choices],
        widget=forms.Select(attrs=_SELECT),
        error_messages={
            "required": "Choose what the request is about",
            "invalid_choice": "Choose what the request is about",
        },
    )
    urgency = forms.ChoiceField(
        label="How urgent is it?",
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.Select(attrs=_SELECT),
        help_text="Critical: the service is down for the whole school. High: a task due today cannot be done.",
        error_messages={"required": "Choose how urgent it is", "invalid_choice": "Choose how urgent it is"},
    )
    summary = forms.CharField(
        label="Summary",
        max_length=services.SUMMARY_MAX,
        help_text="One line, for example: Last night's MIS upload was rejected",
        widget=forms.TextInput(attrs={"class": "govuk-input"}),
        error_messages={
            "required": "Enter a summary",
            "max_length": f"Summary must be {services.SUMMARY_MAX} characters or fewer",
        },
    )
    description = forms.CharField(
        label="What happened?",
        max_length=services.TEXT_MAX,
        help_text="What you did, what you expected and what you saw. Do not include pupils', parents' or staff "
        "members' details: the service desk will ask if it needs them.",
        widget=forms.Textarea(attrs=_TEXTAREA),
        error_messages={"required": "Enter what happened"},
    )
    attachments = _files_field()


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply",
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs=_TEXTAREA),
        error_messages={"required": "Enter your reply"},
    )
    attachments = _files_field()


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="Why is it not fixed?",
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs=_TEXTAREA),
        error_messages={"required": "Enter why it is not fixed"},
    )


class TriageForm(forms.Form):
    category = forms.ChoiceField(label="Category", choices=Category.choices, widget=forms.Select(attrs=_SELECT))
    urgency = forms.ChoiceField(label="Urgency", choices=Urgency.choices, widget=forms.Select(attrs=_SELECT))


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label="Assign to", required=False, widget=forms.Select(attrs=_SELECT))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        staff = [(str(u.pk), str(u)) for u in selectors.processor_staff()]
        self.fields["assignee"].choices = [("", "Nobody"), *staff]  # type: ignore[attr-defined]


class ResolveForm(forms.Form):
    note = forms.CharField(
        label="What was done to resolve it",
        max_length=services.TEXT_MAX,
        widget=forms.Textarea(attrs=_TEXTAREA),
        error_messages={"required": "Enter what was done to resolve it"},
    )


class QueueFilterForm(forms.Form):
    school = forms.ChoiceField(label="School", required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *Status.choices])
    assignee = forms.ChoiceField(label="Assigned to", required=False)
    breached = forms.ChoiceField(
        label="Service level", required=False, choices=[("", "Any"), ("yes", "Past its target")]
    )
    text = forms.CharField(label="Words in the summary or description", required=False, max_length=200)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["school"].choices = [("", "Any"), *((str(s.pk), s.name) for s in selectors.schools())]  # type: ignore[attr-defined]
        staff = [(str(u.pk), str(u)) for u in selectors.processor_staff()]
        self.fields["assignee"].choices = [("", "Anyone"), ("none", "Nobody"), *staff]  # type: ignore[attr-defined]


# --- The school's pages ---------------------------------------------------------------------------


@school_role_required(*SCHOOL_ROLES)
def school_tickets(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    page = selectors.school_tickets_page(page=request.GET.get("page"))
    context = {"page": page, "filters": "", "contracted": selectors.contracted(school_id=school_id)}
    return render(request, "backoffice/service_desk_school.html", context)


@school_role_required(*SCHOOL_ROLES)
def school_ticket_new(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    form = RaiseForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "attachments"}
        try:
            ticket = services.ticket_raise(
                school=Organisation.objects.get(pk=school_id),
                raised_by=cast(User, request.user),
                actor=actor_from_request(request),
                attachments=_uploads(request),
                **data,
            )
        except ValidationError as refused:
            add_refusal(form, refused)
        else:
            messages.success(request, f"Request {ticket.reference} sent to the ICT service's service desk.")
            _warn_about_text(request, f"{ticket.summary}\n{ticket.description}")
            return redirect("backoffice:school-service-desk-ticket", ticket_id=ticket.pk)
    status = 400 if form.errors else 200
    return render(request, "backoffice/service_desk_new.html", {"form": form}, status=status)


@school_role_required(*SCHOOL_ROLES)
def school_ticket(request: StewardRequest, ticket_id: int) -> HttpResponse:
    """The ticket and its thread; a reply, or reopening a resolved ticket."""
    chosen_school(request)
    ticket = selectors.school_ticket(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such request for assistance at this school")
    action = request.POST.get("action", "")
    reply = ReplyForm(request.POST if action == "reply" else None)
    reopen = ReopenForm(request.POST if action == "reopen" else None)
    actor = actor_from_request(request)
    if request.method == "POST":
        form = reopen if action == "reopen" else reply
        if form.is_valid():
            try:
                if action == "reopen":
                    services.ticket_reopen(ticket=ticket, reason=form.cleaned_data["reason"], actor=actor)
                    done = f"{ticket.reference} is reopened."
                else:
                    services.ticket_reply(
                        ticket=ticket,
                        author=cast(User, request.user),
                        body=form.cleaned_data["body"],
                        from_processor=False,
                        actor=actor,
                        attachments=_uploads(request),
                    )
                    done = "Your reply is sent."
                    _warn_about_text(request, form.cleaned_data["body"])
            except ValidationError as refused:
                add_refusal(form, refused, rename={"reason": "reason", "body": "body"})
            else:
                messages.success(request, done)
                return redirect("backoffice:school-service-desk-ticket", ticket_id=ticket.pk)
    thread, events = selectors.thread(ticket=ticket)
    context = _ticket_context(ticket, thread, events, processor=False)
    context["copies"] = selectors.ticket_copies(ticket=ticket)
    context["attachments"] = _described(selectors.ticket_attachments(ticket=ticket))
    context.update(reply=reply, reopen=reopen, errors=reply.errors or reopen.errors)
    context["error_forms"] = [f for f in (reply, reopen) if f.errors]
    context["can_reopen"] = (
        ticket.status == Status.RESOLVED
        and ticket.resolved_at is not None
        and (timezone.now() - ticket.resolved_at).days < services.REOPEN_DAYS
    )
    return render(request, "backoffice/service_desk_ticket.html", context, status=400 if context["errors"] else 200)


def _described(found: Sequence[TicketAttachment]) -> list[tuple[TicketAttachment, str]]:
    """Each file with what the scanner found in it, in words ("3 pupil UPNs and 2 email addresses")."""
    return [(a, scanner.describe(a.findings)) for a in found]


def _ticket_context(
    ticket: Ticket, thread: Sequence[object], events: Sequence[object], *, processor: bool
) -> dict[str, object]:
    """The ticket page's shared part; each history entry in words (no code reaches a page)."""
    words = [(e, EVENT_WORDS.get(str(getattr(e, "action", "")), "Changed")) for e in events]
    return {"ticket": ticket, "thread": thread, "events": words, "processor": processor}


# --- The processor's pages ------------------------------------------------------------------------

KEYS = ("school", "status", "assignee", "breached", "text")


@processor_role_required(*PROCESSOR_ROLES)
def processor_queue(request: StewardRequest) -> HttpResponse:
    filters = kept_filters(request.GET, KEYS)
    form = QueueFilterForm(request.GET if filters else None)
    context: dict[str, object] = {"form": form, "filters": filters, "levels": calendar.service_level_table()}
    if filters and not form.is_valid():
        return render(request, "backoffice/service_desk_queue.html", context, status=400)
    data = form.cleaned_data if filters else {}
    where = QueueFilter(
        school=int(data["school"]) if data.get("school") else None,
        status=data.get("status", ""),
        assignee=data.get("assignee", ""),
        breached=data.get("breached") == "yes",
        text=data.get("text", "").strip(),
    )
    context["page"] = selectors.queue_page(where=where, page=request.GET.get("page"))
    return render(request, "backoffice/service_desk_queue.html", context)


PROCESSOR_FORMS: dict[str, type[forms.Form]] = {
    "reply": ReplyForm,
    "triage": TriageForm,
    "assign": AssignForm,
    "resolve": ResolveForm,
}
DONE = {
    "reply": "Your reply is sent.",
    "triage": "Category and urgency saved; the service-level targets follow.",
    "assign": "Assignment saved.",
    "resolve": "Resolved; the school is told.",
}


@processor_role_required(*PROCESSOR_ROLES)
def processor_ticket(request: StewardRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.processor_ticket(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such request for assistance")
    action = request.POST.get("action", "")
    initial = {
        "triage": {"category": ticket.category, "urgency": ticket.urgency},
        "assign": {"assignee": str(ticket.assignee_id or "")},
    }
    bound = {
        name: cls(request.POST if action == name else None, initial=initial.get(name))
        for name, cls in PROCESSOR_FORMS.items()
    }
    if request.method == "POST":
        form = bound.get(action)
        if form is None:
            raise Http404("No such action")
        if form.is_valid():
            try:
                _act(request, ticket, action, form.cleaned_data)
            except ValidationError as refused:
                add_refusal(form, refused)
            else:
                messages.success(request, DONE[action])
                if action == "reply":
                    _warn_about_text(request, str(form.cleaned_data["body"]))
                return redirect("backoffice:processor-service-desk-ticket", ticket_id=ticket.pk)
    thread, events = selectors.processor_thread(ticket=ticket)
    audit_request(
        request, action="view", object_type="servicedesk.Ticket", object_ids=[ticket.pk], purpose="service desk"
    )
    context = _ticket_context(ticket, thread, events, processor=True)
    context["copies"] = selectors.processor_ticket_copies(ticket=ticket)
    context["grants"] = selectors.processor_ticket_grants(ticket=ticket)
    context["attachments"] = _described(selectors.processor_ticket_attachments(ticket=ticket))
    errors = {name: f.errors for name, f in bound.items() if f.errors}
    context.update(bound, errors=errors)
    context["error_forms"] = [f for f in bound.values() if f.errors]
    return render(request, "backoffice/service_desk_ticket.html", context, status=400 if errors else 200)


def _act(request: StewardRequest, ticket: Ticket, action: str, data: dict[str, object]) -> None:
    actor = actor_from_request(request)
    with tenant_scope([ticket.school_id]):
        if action == "reply":
            services.ticket_reply(
                ticket=ticket,
                author=cast(User, request.user),
                body=str(data["body"]),
                from_processor=True,
                actor=actor,
                attachments=_uploads(request),
            )
        elif action == "triage":
            services.ticket_triage(
                ticket=ticket, category=str(data["category"]), urgency=str(data["urgency"]), actor=actor
            )
        elif action == "assign":
            chosen = next((u for u in selectors.processor_staff() if str(u.pk) == data["assignee"]), None)
            if data["assignee"] and chosen is None:
                raise ValidationError({"assignee": "Choose a member of the ICT service's staff"})
            services.ticket_assign(ticket=ticket, assignee=chosen, actor=actor)
        else:
            services.ticket_resolve(ticket=ticket, note=str(data["note"]), actor=actor)


@processor_role_required(*PROCESSOR_ROLES)
def processor_ticket_close(request: StewardRequest, ticket_id: int) -> HttpResponse:
    """Closing cannot be undone (the school can no longer reopen it), so it asks first."""
    ticket = selectors.processor_ticket(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such request for assistance")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            with tenant_scope([ticket.school_id]):
                services.ticket_close(
                    ticket=ticket,
                    actor=actor_from_request(request),
                    copy_no_longer_needed=request.POST.get("copy_no_longer_needed") == "yes",
                )
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        else:
            messages.success(request, f"{ticket.reference} is closed.")
        return redirect(reverse("backoffice:processor-service-desk-ticket", args=[ticket.pk]))
    live = [c for c in selectors.processor_ticket_copies(ticket=ticket) if c.status == CopyStatus.LIVE]
    return render(request, "backoffice/service_desk_close.html", {"ticket": ticket, "live_copies": live})
