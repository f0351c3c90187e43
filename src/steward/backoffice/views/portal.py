"""The school's parent portal: what it shows parents, and who is invited or registered."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize

from steward.backoffice.access import chosen_school, school_role_required
from steward.core.http import StewardRequest
from steward.mis.models import Contact, LearnerContact
from steward.portal.forms import InviteForm
from steward.portal.invite_audience import Audience, invitation_audience, invite_choices
from steward.portal.items import ITEMS
from steward.portal.models import ParentLink
from steward.portal.selectors import pending_invitations, school_settings
from steward.portal.services import invite_contacts, settings_update
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


def _form(school_id: int, data: QueryDict | None) -> InviteForm:
    choices = invite_choices(school_id)
    return InviteForm(data, year_groups=choices.year_groups, groups=choices.groups, contacts=choices.contacts)


def _audience(school_id: int, form: InviteForm) -> Audience:
    data = form.cleaned_data
    return invitation_audience(
        school_id, scope=data["scope"], year_group=data["year_group"], group=data["group"], chosen=data["contacts"]
    )


@school_role_required(Role.SCHOOL_ADMIN)
def school_portal(request: StewardRequest) -> HttpResponse:
    """What parents see, and inviting them in three steps: choose (every choice kept on an error),
    confirm the listed people ("You are about to invite N parents of …"), then send and say how many."""
    school_id = chosen_school(request)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "settings":
        values = {item.switch: request.POST.get(item.switch) == "on" for item in ITEMS if item.switch}
        settings_update(school_id=school_id, values=values, by=request.user)  # type: ignore[arg-type]
        return redirect("/school/portal/?saved=1")
    form = _form(school_id, request.POST if action in ("invite", "send", "change") else None)
    if action in ("invite", "send") and form.is_valid():
        audience = _audience(school_id, form)
        if action == "send":
            return _send(request, school_id, audience)
        people = list(audience.contacts.values("source_id", "forename", "surname", "email"))
        if people:
            return render(
                request, "backoffice/portal_invite_confirm.html", {"form": form, "people": people, "audience": audience}
            )
        form.add_error(
            None, "Nobody to invite: everyone chosen already has an account, has been invited or has no email address"
        )
    return _portal_page(request, school_id, form)


def _send(request: StewardRequest, school_id: int, audience: Audience) -> HttpResponse:
    """Invite the people the admin confirmed, and only those still eligible under the same choice."""
    confirmed = request.POST.getlist("confirmed")
    report = invite_contacts(
        school=Organisation.objects.get(pk=school_id),
        contacts=audience.contacts.filter(source_id__in=confirmed),
        invited_by=request.user,  # type: ignore[arg-type]
        base_url=request.build_absolute_uri("/")[:-1],
    )
    count = len(report.sent)
    if count:
        messages.success(request, f"{count} invitation{pluralize(count)} sent to parents {audience.description}.")
    else:
        messages.error(request, "Nobody was invited: everyone listed now has an account or an invitation.")
    return redirect("backoffice:school-portal")


def _portal_page(request: StewardRequest, school_id: int, form: InviteForm) -> HttpResponse:
    context = {
        "school": Organisation.objects.get(pk=school_id),
        "switches": [(item, getattr(school_settings(school_id), item.switch)) for item in ITEMS if item.switch],
        "always": [item for item in ITEMS if not item.switch],
        "form": form,
        "rows": _status_rows(school_id),
        "limit": LIST_LIMIT,
        "saved": "saved" in request.GET,
    }
    return render(request, "backoffice/school_portal.html", context, status=400 if form.errors else 200)
