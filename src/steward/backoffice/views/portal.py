"""The school's parent portal: what it shows parents, and who is invited or registered."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.shortcuts import redirect, render

from steward.backoffice.access import chosen_school, school_role_required
from steward.core.http import StewardRequest
from steward.mis.models import Contact, LearnerContact, SchoolGroup
from steward.mis.selectors import enrolments_on_roll
from steward.portal.forms import InviteForm
from steward.portal.items import ITEMS
from steward.portal.models import ParentLink
from steward.portal.selectors import pending_invitations, school_settings
from steward.portal.services import eligible_contacts, invite_contacts, settings_update
from steward.tenancy.models import Organisation, Role

LIST_LIMIT = 300


def _status_rows(school_id: int) -> list[dict[str, Any]]:
    """Contacts with parental responsibility, with their portal status (one query)."""
    responsible = LearnerContact.objects.filter(
        school_id=school_id, contact_source_id=OuterRef("source_id"), parental_responsibility=True
    )
    return list(
        Contact.objects.filter(school_id=school_id)
        .filter(Exists(responsible))
        .annotate(
            registered=Exists(ParentLink.objects.filter(school_id=school_id, contact_source_id=OuterRef("source_id"))),
            invited=Exists(pending_invitations(school_id).filter(contact_source_id=OuterRef("source_id"))),
        )
        .order_by("surname", "forename", "id")
        .values("source_id", "forename", "surname", "email", "registered", "invited")[:LIST_LIMIT]
    )


@school_role_required(Role.SCHOOL_ADMIN)
def school_portal(request: StewardRequest) -> HttpResponse:
    school_id = chosen_school(request)
    school = Organisation.objects.get(pk=school_id)
    settings = school_settings(school_id)
    form = InviteForm(request.POST if request.POST.get("action") == "invite" else None)
    report = None
    if request.method == "POST" and request.POST.get("action") == "settings":
        values = {item.switch: request.POST.get(item.switch) == "on" for item in ITEMS if item.switch}
        settings_update(school_id=school_id, values=values, by=request.user)  # type: ignore[arg-type]
        return redirect("/school/portal/?saved=1")
    if request.method == "POST" and form.is_valid():
        scope = form.cleaned_data["scope"]
        contacts = eligible_contacts(
            school_id,
            year_group=form.cleaned_data["year_group"] if scope == "year" else "",
            group_source_id=form.cleaned_data["group"] if scope == "group" else "",
            not_invited_only=scope == "all",
        )
        if scope == "contact":
            contacts = contacts.filter(source_id=form.cleaned_data["contact"])
        report = invite_contacts(
            school=school,
            contacts=contacts,
            invited_by=request.user,  # type: ignore[arg-type]
            base_url=request.build_absolute_uri("/")[:-1],
        )
        if not report.sent:
            form.add_error(None, "Nobody was invited: everyone chosen already has an account, or has no email address")
    year_groups = (
        enrolments_on_roll(school_id)
        .exclude(year_group="")
        .values_list("year_group", flat=True)
        .distinct()
        .order_by("year_group")
    )
    context = {
        "school": school,
        "switches": [(item, getattr(settings, item.switch)) for item in ITEMS if item.switch],
        "always": [item for item in ITEMS if not item.switch],
        "form": form,
        "report": report,
        "rows": _status_rows(school_id),
        "limit": LIST_LIMIT,
        "year_groups": list(year_groups),
        "groups": list(SchoolGroup.objects.filter(school_id=school_id).order_by("name").values("source_id", "name")),
        "saved": "saved" in request.GET,
    }
    return render(request, "backoffice/school_portal.html", context, status=400 if form.errors else 200)
