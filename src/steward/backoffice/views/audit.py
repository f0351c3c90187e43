"""The audit log pages: a school's log (its admins and DPO) and the whole log (the processor's admins),
filtered, paged over all of it, in words, and exported as CSV.

Thin: the form checks what was typed, `audit.selectors.events_page` reads a page, `audit.labels`
says each event in words, `audit.services.audit_log_csv` audits and streams an export. A filter that
cannot be read (an impossible date) is answered 400 with the error at the field, and nothing is listed
or exported by a guess.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render

from steward.audit import selectors as audit_selectors
from steward.audit.actor import actor_from_request
from steward.audit.labels import describe_all
from steward.audit.selectors import AuditQuery
from steward.audit.services import audit_log_csv, audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required
from steward.backoffice.audit_filter import AuditFilterForm
from steward.core.http import StewardRequest
from steward.core.listing import csv_download, kept_filters
from steward.mis.search import learner_ids_matching
from steward.tenancy.models import Role

FILTER_KEYS = ("person", "pupil", "record_type", "record_id", "action") + tuple(
    f"{p}_{part}" for p in ("from", "to") for part in ("day", "month", "year")
)


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="audit")
def school_audit(request: StewardRequest) -> HttpResponse:
    return _audit_page(request, school_id=chosen_school(request), scope="school")


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="audit")
def school_audit_csv(request: StewardRequest) -> HttpResponseBase:
    return _audit_csv(request, school_id=chosen_school(request), scope="school")


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_audit(request: StewardRequest) -> HttpResponse:
    return _audit_page(request, school_id=None, scope="processor")


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_audit_csv(request: StewardRequest) -> HttpResponseBase:
    return _audit_csv(request, school_id=None, scope="processor")


def _read_filter(request: StewardRequest, school_id: int | None) -> tuple[AuditFilterForm, AuditQuery | None]:
    """The form, and the query it asks for (None when the filter has an error)."""
    bound = any(request.GET.get(key) for key in FILTER_KEYS)
    form = AuditFilterForm(request.GET if bound else None, with_pupils=school_id is not None)
    if not bound:
        return form, AuditQuery()
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    pupil = str(data.get("pupil") or "").strip()
    return form, AuditQuery(
        person=data["person"].strip(),
        learner_ids=tuple(learner_ids_matching(text=pupil)) if pupil else None,
        record_type=data["record_type"],
        record_id=data["record_id"].strip(),
        action=data["action"],
        date_from=data["date_from"],
        date_to=data["date_to"],
    )


def _filter_string(request: StewardRequest) -> str:
    return kept_filters(request.GET, FILTER_KEYS)


def _audit_page(request: StewardRequest, *, school_id: int | None, scope: str) -> HttpResponse:
    form, query = _read_filter(request, school_id)
    context: dict[str, object] = {"form": form, "scope": scope, "filters": _filter_string(request)}
    if query is None:
        return render(request, "backoffice/audit_log.html", context, status=400)
    page = audit_selectors.events_page(school_id=school_id, query=query, page=request.GET.get("page"))
    context.update(page=page, rows=describe_all(page.object_list, school_id=school_id))
    if scope == "processor":
        context["chain"] = audit_selectors.audit_chain_verify()
    audit_request(
        request,
        action="view",
        object_type="audit.AuditEvent",
        object_ids=[e.id for e in page.object_list],
        purpose="security monitoring" if scope == "processor" else "accountability review",
    )
    return render(request, "backoffice/audit_log.html", context)


def _audit_csv(request: StewardRequest, *, school_id: int | None, scope: str) -> HttpResponseBase:
    form, query = _read_filter(request, school_id)
    if query is None:
        context = {"form": form, "scope": scope, "filters": _filter_string(request)}
        return render(request, "backoffice/audit_log.html", context, status=400)
    return csv_download(audit_log_csv(actor_from_request(request), school_id=school_id, query=query), "audit-log.csv")
