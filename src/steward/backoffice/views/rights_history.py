"""Every rights request the school has had, completed and refused ones too: filtered by status, type
and name, paged with a count, and exported as CSV (audited by `rights.exports.requests_csv`).
A filter that cannot be read (a status that does not exist) is answered 400 and lists nothing."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from steward.audit.actor import actor_from_request
from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, school_role_required
from steward.core.http import StewardRequest
from steward.core.listing import csv_download, kept_filters
from steward.rights import selectors
from steward.rights.exports import requests_csv
from steward.rights.models import RightsRequest
from steward.rights.selectors import RequestFilter
from steward.tenancy.models import Role

KEYS = ("status", "kind", "text")


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *RightsRequest.Status.choices])
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Any"), *RightsRequest.Kind.choices])
    text = forms.CharField(label="Name of the subject or requester", required=False, max_length=200)


def _read(request: StewardRequest) -> tuple[HistoryFilterForm, RequestFilter | None, str]:
    filters = kept_filters(request.GET, KEYS)
    form = HistoryFilterForm(request.GET if filters else None)
    if not filters:
        return form, RequestFilter(), ""
    if not form.is_valid():
        return form, None, filters
    data = form.cleaned_data
    return form, RequestFilter(status=data["status"], kind=data["kind"], text=data["text"].strip()), filters


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_history(request: StewardRequest) -> HttpResponse:
    chosen_school(request)
    form, where, filters = _read(request)
    context: dict[str, object] = {"form": form, "filters": filters}
    if where is None:
        return render(request, "backoffice/rights_history.html", context, status=400)
    page = selectors.requests_page(where=where, page=request.GET.get("page"))
    audit_request(
        request,
        action="view",
        object_type="rights.RightsRequest",
        object_ids=[r.id for r in page.object_list],
        purpose="subject rights",
    )
    context["page"] = page
    return render(request, "backoffice/rights_history.html", context)


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO, support="rights")
def rights_history_csv(request: StewardRequest) -> HttpResponseBase:
    school_id = chosen_school(request)
    form, where, filters = _read(request)
    if where is None:
        return render(request, "backoffice/rights_history.html", {"form": form, "filters": filters}, status=400)
    return csv_download(
        requests_csv(actor_from_request(request), school_id=school_id, where=where), "rights-requests.csv"
    )
