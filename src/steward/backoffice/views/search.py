"""The search page behind the header's search box. What a school's user saw is audited per kind
of person (names were shown); the processor's search shows schools only."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from steward.audit.services import audit_request
from steward.backoffice.access import require_support_area, staff_required, under_support
from steward.backoffice.search import PEOPLE_KINDS, search_processor, search_school
from steward.core.http import StewardRequest
from steward.tenancy import selectors as tenancy_selectors

MAX_LENGTH = 100
OBJECT_TYPES = {"learner": "mis.Learner", "contact": "mis.Contact", "staff": "mis.Staff"}


@staff_required
def search(request: StewardRequest) -> HttpResponse:
    support = bool(request.school_id) and under_support(request)
    if support:
        require_support_area(request, "search")
    text = request.GET.get("q", "").strip()
    context: dict[str, object] = {"text": text, "people_kinds": PEOPLE_KINDS}
    if len(text) > MAX_LENGTH:
        context["error"] = f"Search for {MAX_LENGTH} characters or fewer"
        return render(request, "backoffice/search.html", context, status=400)
    if len(text) == 1:
        context["error"] = "Enter at least 2 characters to search for"
        return render(request, "backoffice/search.html", context, status=400)
    if not text:
        return render(request, "backoffice/search.html", context)
    if request.school_id:
        # Under a support grant, only what its scope names is searched (and audited with the grant).
        results = search_school(text, only=request.support_scope if support else None)
        for kind, hits in results.people.items():
            audit_request(
                request,
                action="search",
                object_type=OBJECT_TYPES[kind],
                object_ids=[hit.source_id for hit in hits],
                purpose="service desk support access" if support else "school administration",
            )
    elif tenancy_selectors.processor_roles(user=request.user):  # type: ignore[arg-type]
        results = search_processor(text)
    else:
        return render(request, "backoffice/search.html", {**context, "choose_school": True})
    context["results"] = results
    return render(request, "backoffice/search.html", context)
