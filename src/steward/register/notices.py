"""The privacy notice of one school's service, assembled from the register and live configuration.

Every statement comes from a mechanism that enforces it: categories and purposes from the
activity (ingest refuses data outside it), recipients only where an approved flow releases data
(the API and exports release nothing else), transfers only where the register records a
safeguard, retention from the rules. Nothing here is free text about the school's practice.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.register.models import (
    DataCategory,
    LawfulBasis,
    PlaceOfProcessing,
    ProcessingActivity,
    Recipient,
    RetentionRule,
    SpecialCondition,
)
from steward.sharing.models import DataFlow
from steward.sharing.selectors import releasing
from steward.tenancy.models import DataProtectionContact, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import contracted_services

RIGHTS = (
    ("access", "to ask for a copy of the information held about you (Article 15)"),
    ("rectification", "to have inaccurate information corrected (Article 16)"),
    ("erasure", "to have information erased where the law allows (Article 17)"),
    ("restriction", "to have its use restricted while a question is settled (Article 18)"),
    ("objection", "to object to its use for a public task (Article 21)"),
    ("portability", "to receive information you provided in a portable form where it applies (Article 20)"),
    ("complaint", "to complain to the Information Commissioner's Office (ico.org.uk, 0303 123 1113)"),
)


@dataclass(frozen=True)
class NoticeRecipient:
    recipient: Recipient
    purposes: list[str]
    categories: list[str]


@dataclass(frozen=True)
class Notice:
    school: Organisation
    processor: Organisation | None
    activity: ProcessingActivity
    contacts: list[DataProtectionContact]
    lawful_bases: list[str]
    special_conditions: list[str]
    categories: list[DataCategory]
    recipients: list[NoticeRecipient]
    transfers: list[Recipient]
    places: list[PlaceOfProcessing]
    retention: list[RetentionRule]
    rights: tuple[tuple[str, str], ...] = RIGHTS


def services_in_force(school: Organisation) -> list[ProcessingActivity]:
    return list(
        ProcessingActivity.objects.filter(service__in=contracted_services(school_id=school.id)).order_by("name")
    )


def notice_for(*, school: Organisation, service: str) -> Notice | None:
    """The notice, or None when the school has no contract in force for the service."""
    if service not in contracted_services(school_id=school.id):
        return None
    activity = ProcessingActivity.objects.prefetch_related("places").get(service=service)
    contract = school.contracts.select_related("processor").filter(services__contains=[service]).first()
    with tenant_scope([school.id]):
        contacts = list(DataProtectionContact.objects.order_by("kind"))
        flows = [
            f
            for f in DataFlow.objects.filter(activity=activity).select_related("recipient").order_by("id")
            if releasing(f)
        ]
    names = dict(DataCategory.objects.values_list("code", "name"))
    by_recipient: dict[int, NoticeRecipient] = {}
    for flow in flows:
        entry = by_recipient.setdefault(flow.recipient_id, NoticeRecipient(flow.recipient, [], []))
        entry.purposes.append(flow.purpose)
        entry.categories.extend(names.get(c, c) for c in flow.categories if names.get(c, c) not in entry.categories)
    recipients = sorted(by_recipient.values(), key=lambda r: r.recipient.name)
    return Notice(
        school=school,
        processor=contract.processor if contract else None,
        activity=activity,
        contacts=contacts,
        lawful_bases=[f"{LawfulBasis(b).label}" for b in activity.lawful_bases],
        special_conditions=[f"{SpecialCondition(c).label}" for c in activity.special_conditions],
        categories=list(activity.categories.order_by("name")),
        recipients=recipients,
        transfers=[r.recipient for r in recipients if r.recipient.outside_uk_eea],
        places=list(activity.places.all()),
        retention=list(activity.retention_rules.select_related("category")),
    )
