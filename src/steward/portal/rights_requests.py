"""A parent's own rights requests from the portal: for themselves (their contact record at a
school) or for a child they hold parental responsibility for.

Who a parent may ask about is read from the same places as what they may see: their links to
contact records, and `children_of`. The request reaches the school as an ordinary rights request
(`request_log`), to be identity-checked and answered in the back office like any other; the
school's DPO is emailed and the parent gets an acknowledgement with the due date.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from steward.audit.actor import Actor
from steward.mis.models import Contact
from steward.mis.names import display_name
from steward.portal.models import ParentAccount, ParentLink
from steward.portal.selectors import children_of
from steward.rights.models import RightsRequest
from steward.rights.services import request_acknowledge, request_log

PORTAL_KINDS = (
    RightsRequest.Kind.ACCESS,
    RightsRequest.Kind.RECTIFICATION,
    RightsRequest.Kind.ERASURE,
    RightsRequest.Kind.RESTRICTION,
    RightsRequest.Kind.OBJECTION,
    RightsRequest.Kind.PORTABILITY,
)


@dataclass(frozen=True)
class Choice:
    """Someone the parent may make a request about: `value` is what the form posts."""

    value: str
    label: str
    school_id: int
    subject_kind: str
    subject_id: int
    subject_label: str


def request_subjects(parent: ParentAccount) -> list[Choice]:
    """The parent at each linked school, then each child (call in the parent's tenant scope)."""
    links = (
        ParentLink.objects.filter(parent=parent, restricted_at__isnull=True)
        .select_related("school")
        .order_by("school__name")
    )
    contacts = {
        (c.school_id, c.source_id): c
        for c in Contact.objects.filter(
            school_id__in=[link.school_id for link in links],
            source_id__in=[link.contact_source_id for link in links],
        )
    }
    choices = []
    for link in links:
        contact = contacts.get((link.school_id, link.contact_source_id))
        if contact is not None:
            name = f"{contact.forename} {contact.surname}".strip()
            choices.append(
                Choice(
                    f"contact-{contact.pk}", f"Me, at {link.school.name}", link.school_id, "contact", contact.pk, name
                )
            )
            choices.append(
                Choice(
                    f"account-{link.school_id}",
                    f"My parent portal account (asked of {link.school.name})",
                    link.school_id,
                    "parent_user",
                    parent.pk,
                    parent.full_name,
                )
            )
    for child in children_of(parent.pk):
        name = display_name(child)
        choices.append(
            Choice(f"learner-{child.pk}", f"{name}, at {child.school.name}", child.school_id, "learner", child.pk, name)
        )
    return choices


def portal_request(*, parent: ParentAccount, kind: str, about: str, note: str) -> RightsRequest:
    """Log the parent's request with the school that holds the subject's record."""
    if kind not in PORTAL_KINDS:
        raise ValidationError({"kind": "Choose what you are asking for"})
    choice = next((c for c in request_subjects(parent) if c.value == about), None)
    if choice is None:
        raise ValidationError({"about": "Choose who the request is about"})
    if kind == RightsRequest.Kind.RECTIFICATION and not note.strip():
        raise ValidationError({"note": "Tell the school what is wrong and what it should be"})
    links = ParentLink.objects.filter(parent=parent, school_id=choice.school_id).select_related("school")
    school = links[0].school
    logged = request_log(
        school=school,
        kind=kind,
        subject_kind=choice.subject_kind,
        subject_id=choice.subject_id,
        subject_label=choice.subject_label,
        requested_by=f"{parent.full_name} (parent portal)",
        received_on=timezone.localdate(),
        # The rights service audits the request (`rights_request_logged`) as made by the parent.
        actor=parent_actor(parent),
        note=note.strip()[:2000],
        requester_email=parent.email,
    )
    # The school's DPO hears of it at once and the parent gets the statutory due date.
    request_acknowledge(request=logged, parent_email=parent.email)
    return logged


def parent_actor(parent: ParentAccount) -> Actor:
    """A parent acting through the portal, named by account (the portal's audit label for parents)."""
    return Actor(label=f"parent account {parent.pk}")
