"""Back-office pages for school controllers and the processor's staff. Thin: selectors do the work."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.audit.services import audit_request
from steward.backoffice.access import chosen_school, processor_role_required, school_role_required, staff_required
from steward.core.http import StewardRequest
from steward.ingest import selectors as ingest_selectors
from steward.register import selectors as register_selectors
from steward.retention import selectors as retention_selectors
from steward.tenancy import selectors as tenancy_selectors
from steward.tenancy.middleware import SESSION_KEY
from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES

ALL_SCHOOL_ROLES = tuple(SCHOOL_ROLES)
ALL_PROCESSOR_ROLES = tuple(PROCESSOR_ROLES)


@staff_required
def home(request: StewardRequest) -> HttpResponse:
    """Where signing in lands. A member of one school's staff is not asked which school: there is
    only one, so it is chosen (and audited, as a choice would be) and their school's first page opens."""
    if request.school_id:
        return redirect("backoffice:school-home")
    if tenancy_selectors.processor_roles(user=request.user):  # type: ignore[arg-type]
        return redirect("backoffice:processor-home")
    schools = list(tenancy_selectors.schools_for_user(user=request.user))  # type: ignore[arg-type]
    if len(schools) == 1:
        request.session[SESSION_KEY] = schools[0].id
        audit_request(request, action="switch_school", object_type="tenancy.Organisation", object_ids=[schools[0].id])
        return redirect("backoffice:school-home")
    return redirect("backoffice:choose-school")


@staff_required
def choose_school(request: StewardRequest) -> HttpResponse:
    schools = tenancy_selectors.schools_for_user(user=request.user)  # type: ignore[arg-type]
    return render(request, "backoffice/choose_school.html", {"schools": schools})


@require_POST
@staff_required
def switch_school(request: StewardRequest) -> HttpResponse:
    raw = request.POST.get("school", "")
    school_id = int(raw) if raw.isdigit() else 0
    if not tenancy_selectors.school_roles(user=request.user, school_id=school_id):  # type: ignore[arg-type]
        return render(
            request,
            "backoffice/choose_school.html",
            {
                "schools": tenancy_selectors.schools_for_user(user=request.user),  # type: ignore[arg-type]
                "error": "Choose one of your schools",
            },
            status=403,
        )
    request.session[SESSION_KEY] = school_id
    audit_request(request, action="switch_school", object_type="tenancy.Organisation", object_ids=[school_id])
    messages.success(request, "You are now working in the school you chose.")
    return redirect("backoffice:school-home")


@school_role_required(*ALL_SCHOOL_ROLES)
def school_register(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    context = {
        "activities": tenancy_selectors.activities_for_school(school_id=school_id),
        "contracts": tenancy_selectors.contracts_for_school(school_id=school_id),
        # While a termination's export waits, the school's home page links it (its staff were emailed too).
        "ending": retention_selectors.open_termination_for_school(school_id=school_id),
    }
    return render(request, "backoffice/school_register.html", context)


@school_role_required(*ALL_SCHOOL_ROLES)
def school_people(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    memberships = list(tenancy_selectors.school_people(school_id=school_id))
    contacts = list(tenancy_selectors.data_protection_contacts())
    audit_request(
        request,
        action="view",
        object_type="tenancy.Membership",
        object_ids=[m.user_id for m in memberships],
        purpose="school administration",
    )
    return render(request, "backoffice/school_people.html", {"memberships": memberships, "contacts": contacts})


@school_role_required(*ALL_SCHOOL_ROLES, support="batches")
def school_batches(request: StewardRequest) -> HttpResponse:
    """What the school's MIS sent, applied or rejected with every error (no personal data shown)."""
    return render(request, "backoffice/school_batches.html", {"batches": ingest_selectors.batches_for_school()})


@school_role_required(*ALL_SCHOOL_ROLES, support="batches")
def school_batch(request: StewardRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch = ingest_selectors.batch_for_school(batch_id=str(batch_id))
    if batch is None:
        raise Http404("No such batch for this school")
    return render(request, "backoffice/school_batch.html", {"batch": batch})


@processor_role_required(*ALL_PROCESSOR_ROLES)
def processor_schools(request: StewardRequest) -> HttpResponse:
    return render(
        request,
        "backoffice/processor_schools.html",
        {
            "schools": tenancy_selectors.schools_with_contracts(),
        },
    )


@processor_role_required(*ALL_PROCESSOR_ROLES)
def processor_contracts(request: StewardRequest) -> HttpResponse:
    return render(
        request,
        "backoffice/processor_contracts.html",
        {
            "contracts": tenancy_selectors.all_contracts(),
        },
    )


@processor_role_required(*ALL_PROCESSOR_ROLES)
def processor_register(request: StewardRequest) -> HttpResponse:
    return render(
        request,
        "backoffice/processor_register.html",
        {
            "activities": register_selectors.all_activities(),
            "recipients": register_selectors.recipients(),
            "categories": register_selectors.categories(),
            "providers": register_selectors.privacy_providers(),
        },
    )
