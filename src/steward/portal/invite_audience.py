"""Who an invitation would reach: the choices the back-office form offers, and the contacts a choice
means. Read-only; `services.invite_contacts` sends.

Kept apart from sending so that the same question is answered twice with the same rule: once for the
confirmation page ("You are about to invite N parents of Year 3", listing them), and again when the
admin confirms, when only those listed who are still eligible are invited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from steward.mis.models import Contact, SchoolGroup
from steward.mis.selectors import enrolments_on_roll
from steward.portal.services import eligible_contacts

# Years that are not numbers, in the DfE's national curriculum year codes.
_YEAR_NAMES = {"N1": "Nursery 1", "N2": "Nursery 2", "R": "Reception", "X": "No year group"}


def year_label(code: str) -> str:
    """ "Year 3" for "3", "Reception" for "R": how a school says it."""
    return f"Year {code}" if code.isdigit() else _YEAR_NAMES.get(code, code)


@dataclass(frozen=True)
class InviteChoices:
    """What the form offers, each as (value, label): year groups on roll, classes and groups, and the
    contacts who can be invited now (parental responsibility for a child on roll, an email, no account)."""

    year_groups: list[tuple[str, str]]
    groups: list[tuple[str, str]]
    contacts: list[tuple[str, str]]


def invite_choices(school_id: int) -> InviteChoices:
    """The form's choices for the school (call inside its scope)."""
    years = (
        enrolments_on_roll(school_id, timezone.localdate())
        .exclude(year_group="")
        .values_list("year_group", flat=True)
        .distinct()
    )
    ordered = sorted(set(years), key=lambda y: (not y.isdigit(), int(y) if y.isdigit() else 0, y))
    groups = SchoolGroup.objects.filter(school_id=school_id).order_by("name").values_list("source_id", "name")
    contacts = eligible_contacts(school_id).values_list("source_id", "forename", "surname", "email")
    return InviteChoices(
        year_groups=[(y, year_label(y)) for y in ordered],
        groups=[(sid, name) for sid, name in groups],
        contacts=[(sid, f"{forename} {surname} ({email})".strip()) for sid, forename, surname, email in contacts],
    )


@dataclass(frozen=True)
class Audience:
    """The contacts one choice reaches, and the words for them ("of Year 3")."""

    contacts: QuerySet[Contact]
    description: str


def invitation_audience(
    school_id: int, *, scope: str, year_group: str = "", group: str = "", chosen: list[str] | None = None
) -> Audience:
    """The eligible contacts a valid form's choice means (call inside the school's scope)."""
    if scope == "year":
        return Audience(eligible_contacts(school_id, year_group=year_group), f"of {year_label(year_group)}")
    if scope == "group":
        name = SchoolGroup.objects.filter(school_id=school_id, source_id=group).values_list("name", flat=True).first()
        return Audience(eligible_contacts(school_id, group_source_id=group), f"of pupils in {name or group}")
    if scope == "contacts":
        return Audience(eligible_contacts(school_id).filter(source_id__in=chosen or []), "you chose")
    if scope == "all":
        return Audience(eligible_contacts(school_id, not_invited_only=True), "who have not been invited yet")
    raise ValueError(f"unknown invitation scope {scope!r}")
