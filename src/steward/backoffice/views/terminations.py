"""Contract termination pages: processor admins end a contract, purge after the window, read the certificate;
the school's admins download the export meanwhile. Thin: `retention.termination` does the work."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.core.http import StewardRequest
from steward.retention import selectors, termination
from steward.tenancy import selectors as tenancy_selectors
from steward.tenancy.models import SCHOOL_ROLES, Contract, Role


def _actor(request: StewardRequest) -> str:
    return str(request.user)


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_terminations(request: StewardRequest) -> HttpResponse:
    ending = {t.contract_id for t in selectors.terminations()}
    contracts = [c for c in tenancy_selectors.all_contracts() if c.pk not in ending]
    context = {"contracts": contracts, "terminations": selectors.terminations(), "window": termination.window_days()}
    return render(request, "backoffice/processor_terminations.html", context)


@require_POST
@processor_role_required(Role.PROCESSOR_ADMIN)
def termination_start(request: StewardRequest, contract_id: int) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=contract_id)
    try:
        termination.termination_start(contract=contract, requested_by=_actor(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The contract's ending has started: the school's export is ready.")
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
    path = Path(record.export_file)
    download = FileResponse(path.open("rb"), as_attachment=True, filename=f"steward-export-{record.school.urn}.zip")
    return download  # type: ignore[return-value]  # a streamed response; the decorators need no more
