"""Ticket attachments in the back office: downloads (the school's staff, and the ICT service's while
the school has not quarantined the file), and the school's quarantine and redaction, each behind a
GOV.UK confirmation page. Thin: `servicedesk.attachments` decides, writes and audits; each download
is audited here with the attachment's id.

A file is streamed from outside the web root as a download, never shown inline: `attachment`
disposition, its sniffed content type and `nosniff`, so a browser never runs it as a page.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.http import StewardRequest
from steward.servicedesk import attachments, scanner, selectors
from steward.servicedesk.models import TicketAttachment
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES, User


def _stream(request: StewardRequest, attachment: TicketAttachment) -> FileResponse:
    try:
        stored = attachments.open_stored(attachment)
    except FileNotFoundError as gone:
        raise Http404(f"{attachment.file_name} is no longer stored") from gone
    audit_request(
        request,
        action="download",
        object_type="servicedesk.TicketAttachment",
        object_ids=[attachment.pk],
        purpose="service desk",
        detail={"ticket": attachment.ticket_id},
    )
    response = FileResponse(
        stored, as_attachment=True, filename=attachment.file_name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@school_role_required(*SCHOOL_ROLES)
@require_http_methods(["GET"])
def school_attachment(request: StewardRequest, ticket_id: int, attachment_id: int) -> HttpResponseBase:
    """The school's admins and DPOs download any file of their ticket, quarantined or not."""
    chosen_school(request)
    attachment = selectors.school_attachment(ticket_id=ticket_id, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment on this school's request")
    return _stream(request, attachment)


@processor_role_required(*PROCESSOR_ROLES)
@require_http_methods(["GET"])
def processor_attachment(request: StewardRequest, ticket_id: int, attachment_id: int) -> HttpResponseBase:
    attachment = selectors.processor_attachment(ticket_id=ticket_id, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment")
    if attachment.is_quarantined:
        raise PermissionDenied(
            f"{attachment.file_name} was quarantined by the school: only the school's staff can open it. "
            "Ask the school on the request if you need what it shows."
        )
    return _stream(request, attachment)


ACTIONS = {
    "quarantine": ("Quarantine", attachments.quarantine),
    "redact": ("Redact", attachments.redact),
}


def _decide(request: StewardRequest, ticket_id: int, attachment_id: int, action: str) -> HttpResponse:
    """The first visit shows what will happen; a POST with confirm=yes does it."""
    chosen_school(request)
    attachment = selectors.school_attachment(ticket_id=ticket_id, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment on this school's request")
    back = redirect("backoffice:school-service-desk-ticket", ticket_id=ticket_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        _, act = ACTIONS[action]
        try:
            act(attachment=attachment, user=cast(User, request.user), actor=actor_from_request(request))
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        except PermissionError as refused:
            raise PermissionDenied(str(refused)) from refused
        else:
            messages.success(request, DONE[action].format(name=attachment.file_name))
        return back
    context = {
        "attachment": attachment,
        "action": action,
        "verb": ACTIONS[action][0],
        "found": scanner.describe(attachment.findings),
        "redactable": attachment.kind in scanner.REDACTABLE,
        "kind_words": scanner.KIND_WORDS.get(attachment.kind, "a file"),
    }
    return render(request, "backoffice/service_desk_attachment_confirm.html", context)


DONE = {
    "quarantine": "{name} is quarantined: only your school's administrators and DPOs can open it now. "
    "The ICT service sees that the school quarantined it.",
    "redact": "{name} is redacted: each finding is replaced by [redacted], and the original file is deleted.",
}


@school_role_required(*SCHOOL_ROLES)
@require_http_methods(["GET", "POST"])
def school_attachment_quarantine(request: StewardRequest, ticket_id: int, attachment_id: int) -> HttpResponse:
    return _decide(request, ticket_id, attachment_id, "quarantine")


@school_role_required(*SCHOOL_ROLES)
@require_http_methods(["GET", "POST"])
def school_attachment_redact(request: StewardRequest, ticket_id: int, attachment_id: int) -> HttpResponse:
    return _decide(request, ticket_id, attachment_id, "redact")
