"""Contract termination pages: processor admins end a contract, purge after the window, read the certificate;
the school's admins download the export meanwhile. Thin: `retention.termination` does the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.http import StewardRequest
from steward.retention import selectors, termination
from steward.retention.termination_notice import termination_plan, window_days
from steward.tenancy import selectors as tenancy_selectors
from steward.tenancy.models import SCHOOL_ROLES, Contract, Role


def _actor(request: StewardRequest) -> str:
    return str(request.user)


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_terminations(request: StewardRequest) -> HttpResponse:
    records = selectors.terminations()
    ending = {t.contract_id for t in records}
    contracts = [c for c in tenancy_selectors.all_contracts() if c.pk not in ending]
    now = timezone.now()
    rows = [(t, selectors.purge_refusals(t, now=now) if not t.purged_at else []) for t in records]
    context = {"contracts": contracts, "rows": rows, "window": window_days()}
    return render(request, "backoffice/processor_terminations.html", context)


@processor_role_required(Role.PROCESSOR_ADMIN)
def termination_start(request: StewardRequest, contract_id: int) -> HttpResponse:
    """Ending a contract in two steps: the reason (required), then a page saying what will happen and
    when (the export, its window, the purge date, who is emailed); only "Yes, end the contract" acts."""
    contract = get_object_or_404(Contract.objects.select_related("school", "processor"), pk=contract_id)
    reason = request.POST.get("reason", "").strip()
    context: dict[str, object] = {"contract": contract, "reason": reason, "plan": termination_plan(contract=contract)}
    if request.method != "POST":
        return render(request, "backoffice/termination_start.html", context)
    if not reason:
        context["error"] = "Enter why the contract is ending"
        return render(request, "backoffice/termination_start.html", context, status=400)
    if request.POST.get("action") != "confirm":
        return render(request, "backoffice/termination_confirm.html", context)
    try:
        record = termination.termination_start(contract=contract, requested_by=_actor(request), reason=reason)
    except ValidationError as error:
        context["error"] = " ".join(error.messages)
        return render(request, "backoffice/termination_start.html", context, status=400)
    told = len(record.notified)
    messages.success(
        request,
        f"Contract {contract.reference} has ended. {contract.school.name}'s export is ready; "
        f"{told} {'person was' if told == 1 else 'people were'} emailed. "
        f"The purge may start on {timezone.localtime(record.purge_not_before):%-d %B %Y}.",
    )
    return redirect("backoffice:processor-terminations")


@require_POST
@processor_role_required(Role.PROCESSOR_ADMIN)
def termination_purge(request: StewardRequest, termination_id: int) -> HttpResponse:
    record = selectors.termination(termination_id)
    if record is None:
        raise Http404("No such termination")
    try:
        termination.termination_purge(termination=record, confirmed_by=_actor(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("backoffice:processor-terminations")
    return redirect("backoffice:termination-certificate", termination_id=record.pk)


@processor_role_required(Role.PROCESSOR_ADMIN)
def termination_certificate(request: StewardRequest, termination_id: int) -> HttpResponse:
    record = selectors.termination(termination_id, purged=True)
    if record is None:
        raise Http404("No such purged termination")
    text = termination.certificate_text(record)
    if request.GET.get("format") == "txt":
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="certificate-of-deletion-{record.school.urn}.txt"'
        return response
    return render(request, "backoffice/termination_certificate.html", {"termination": record, "text": text})


@school_role_required(*SCHOOL_ROLES)
def school_termination_export(request: StewardRequest) -> HttpResponse:
    """The school's own complete export, downloadable until the purge."""
    record = selectors.open_termination_for_school(school_id=chosen_school(request))
    if record is None:
        raise Http404("No export is waiting for this school")
    try:
        stored = termination.open_export(record)
    except FileNotFoundError as gone:
        raise Http404("The export is no longer stored") from gone
    download = FileResponse(stored, as_attachment=True, filename=f"steward-export-{record.school.urn}.zip")
    return download  # type: ignore[return-value]  # a streamed response; the decorators need no more
