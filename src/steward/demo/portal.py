"""The demo's parent portal: each school's switches, and parents invited and registered through the
real services (`invite_contacts`, then `invitation_accept` with the token the invitation carries).

Every school shows most items but leaves lesson attendance and the school photo off, so the demo
shows the switch. Two contacts a school register (one with more than one child on roll where the
school has one), and three more are invited but have not registered yet. The synthetic schools'
families are separate people, so no demo parent has children at two schools.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from django.db import transaction

from steward.mis.models import Contact, LearnerContact
from steward.mis.names import display_name
from steward.mis.selectors import enrolments_on_roll
from steward.portal import selectors
from steward.portal.services import eligible_contacts, invitation_accept, invite_contacts, settings_update
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope

SWITCHES = {
    "show_photo": False,
    "show_diary": True,
    "show_session_attendance": True,
    "show_lesson_attendance": False,
    "show_achievements": True,
    "show_behaviour": True,
}
REGISTERED_PER_SCHOOL = 2
INVITED_PER_SCHOOL = 3


@transaction.atomic
def load_demo_portal(schools: list[Organisation], admins: dict[int, User], base_url: str) -> dict[str, Any]:
    """Switch items on, invite contacts and register some of them; return what goes under
    "parents" in the credentials file. `admins` maps a school id to the staff user who acts;
    `base_url` is the address the demo serves on (the invitations' links use it)."""
    accounts: list[dict[str, Any]] = []
    invited: list[dict[str, Any]] = []
    for school in schools:
        admin = admins[school.id]
        with tenant_scope([school.id]):
            settings_update(school_id=school.id, values=SWITCHES, by=admin)
            chosen = _choose_contacts(school.id, REGISTERED_PER_SCHOOL + INVITED_PER_SCHOOL)
            contacts = eligible_contacts(school.id).filter(source_id__in=chosen)
            report = invite_contacts(school=school, contacts=contacts, invited_by=admin, base_url=base_url)
            people = {c.source_id: c for c in Contact.objects.filter(school=school, source_id__in=chosen)}
        for number, source_id in enumerate(chosen):
            contact = people[source_id]
            name = f"{contact.forename} {contact.surname}"
            if number >= REGISTERED_PER_SCHOOL:
                invited.append({"name": name, "email": contact.email, "school": school.name})
                continue
            password = "demo-" + secrets.token_urlsafe(12)
            parent = invitation_accept(token=report.tokens[source_id], full_name=name, password=password)
            with tenant_scope([school.id]):
                children = [display_name(c) for c in selectors.children_of(parent.pk)]
            accounts.append(
                {
                    "name": name,
                    "email": parent.email,
                    "password": password,
                    "schools": [school.name],
                    "children": children,
                }
            )
    return {
        "portal_url": f"{base_url}/portal/",
        "note": "Parents sign in with email and password (two-factor is theirs to turn on). Lesson "
        "attendance and the school photo are switched off in every demo school; a school admin "
        "can switch them on under Parent portal.",
        "accounts": accounts,
        "invited_not_registered": invited,
    }


def _choose_contacts(school_id: int, count: int) -> list[str]:
    """Eligible contacts, those responsible for two or more children on roll first (so the demo
    shows a family with siblings), then in `eligible_contacts`' order; deterministic for the same data."""
    eligible = list(eligible_contacts(school_id).values_list("source_id", flat=True))
    on_roll = enrolments_on_roll(school_id)
    children = Counter(
        LearnerContact.objects.filter(
            school_id=school_id,
            parental_responsibility=True,
            contact_source_id__in=eligible,
            learner_source_id__in=on_roll.values("learner_source_id"),
        ).values_list("contact_source_id", flat=True)
    )
    order = {sid: n for n, sid in enumerate(eligible)}
    return sorted(eligible, key=lambda sid: (-min(children[sid], 2), order[sid]))[:count]
