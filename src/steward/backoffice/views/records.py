"""A person's MIS records: the page a search result opens.

A school's administrator or DPO sees everything Steward holds about the person, special category
fields included (marked as such). The ICT service's staff see it only under a live support grant
whose scope names the person's record type, only the record types the grant names, never special
category fields, and every view is audited with the grant's reference (`audit_request` adds it)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from steward.audit.services import audit_request
from steward.backoffice.access import school_role_required, under_support
from steward.core.http import StewardRequest
from steward.mis.models import MODEL_BY_TYPE
from steward.mis.records import person_record
from steward.tenancy.models import SCHOOL_ROLES


def _area(record_type: str, **_: object) -> str:
    return record_type


@require_safe
@school_role_required(*SCHOOL_ROLES, support=_area)
def school_record(request: StewardRequest, record_type: str, source_id: str) -> HttpResponse:
    support = under_support(request)
    record = person_record(
        record_type=record_type,
        source_id=source_id,
        types=request.support_scope if support else None,
        show_special=not support,
    )
    if record is None:
        raise Http404("No such person at this school")
    # One event per record type shown (the person's own record first), each naming the rows read.
    shown = [(record_type, [source_id]), *((section.record_type, section.ids) for section in record.sections)]
    for shown_type, ids in shown:
        audit_request(
            request,
            action="view",
            object_type=MODEL_BY_TYPE[shown_type]._meta.label,
            object_ids=ids,
            purpose="service desk support access" if support else "school administration",
            detail={"restricted": True} if record.restricted else None,
        )
    return render(request, "backoffice/school_record.html", {"record": record, "support": support})
