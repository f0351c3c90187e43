"""The school's disclosure log: every release to a recipient, filtered by recipient and record type,
paged with a count, and exported as CSV (audited by `sharing.exports.disclosures_csv`)."""

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
from steward.register import selectors as register_selectors
from steward.sharing import selectors
from steward.sharing.exports import disclosures_csv
from steward.sharing.selectors import DisclosureFilter
from steward.tenancy.models import Role

KEYS = ("recipient", "record_type")


class DisclosureFilterForm(forms.Form):
    recipient = forms.ChoiceField(label="Recipient", required=False, choices=())
    record_type = forms.CharField(label="Kind of record (for example, learners)", required=False, max_length=30)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = [("", "Any"), *((r.code, r.name) for r in register_selectors.recipients())]
        self.fields["recipient"].choices = choices  # type: ignore[attr-defined]


def _read(request: StewardRequest) -> tuple[DisclosureFilterForm, DisclosureFilter | None, str]:
    filters = kept_filters(request.GET, KEYS)
    form = DisclosureFilterForm(request.GET if filters else None)
    if not filters:
        return form, DisclosureFilter(), ""
    if not form.is_valid():
        return form, None, filters
    data = form.cleaned_data
    return form, DisclosureFilter(recipient=data["recipient"], record_type=data["record_type"].strip()), filters


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
def school_disclosures(request: StewardRequest) -> HttpResponse:
    chosen_school(request)
    form, where, filters = _read(request)
    context: dict[str, object] = {"form": form, "filters": filters}
    if where is None:
        return render(request, "backoffice/disclosures.html", context, status=400)
    page = selectors.disclosures_page(where=where, page=request.GET.get("page"))
    audit_request(
        request,
        action="view",
        object_type="sharing.Disclosure",
        object_ids=[d.id for d in page.object_list],
        purpose="accountability review",
    )
    context["page"] = page
    return render(request, "backoffice/disclosures.html", context)


@school_role_required(Role.SCHOOL_ADMIN, Role.SCHOOL_DPO)
def school_disclosures_csv(request: StewardRequest) -> HttpResponseBase:
    school_id = chosen_school(request)
    form, where, filters = _read(request)
    if where is None:
        return render(request, "backoffice/disclosures.html", {"form": form, "filters": filters}, status=400)
    return csv_download(
        disclosures_csv(actor_from_request(request), school_id=school_id, where=where), "disclosures.csv"
    )
