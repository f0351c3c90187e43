"""Read-side queries on the processing register."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from steward.register.models import DataCategory, NoticeVersion, ProcessingActivity, Recipient, RetentionRule
from steward.register.providers import PrivacyProvider, providers
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import contracted_services


def all_activities() -> QuerySet[ProcessingActivity]:
    return ProcessingActivity.objects.prefetch_related(
        Prefetch("categories", queryset=DataCategory.objects.order_by("code")),
        "subject_types",
        "recipients",
        "places",
        Prefetch("retention_rules", queryset=RetentionRule.objects.select_related("category")),
    ).order_by("name")


def activities_for_school(*, school_id: int) -> QuerySet[ProcessingActivity]:
    """The school's own register: the activities of the services its contracts cover."""
    return all_activities().filter(service__in=contracted_services(school_id=school_id))


def recipients() -> QuerySet[Recipient]:
    return Recipient.objects.order_by("kind", "name")


def categories() -> QuerySet[DataCategory]:
    return DataCategory.objects.select_related("subject_type").order_by("code")


def privacy_providers() -> list[PrivacyProvider]:
    return providers()


def held_categories() -> set[str]:
    """Category codes that some model field actually holds (its classification) or that a privacy
    provider describes: a category nothing can store is never collected, so no notice may claim it."""
    from django.apps import apps

    from steward.register.classification import PersonalData, classification_of

    held = {h_cat for p in providers() for h in p.describe() for h_cat in h.categories}
    for model in apps.get_models():
        classification = classification_of(model)
        if isinstance(classification, PersonalData):
            held |= classification.categories()
    return held


def notice_versions(*, school_id: int, service: str) -> list[NoticeVersion]:
    """A school's published versions of one notice, newest first (public: opens that school's scope)."""
    with tenant_scope([school_id]):
        return list(NoticeVersion.objects.filter(service=service).order_by("-number"))


def notice_version(*, school_id: int, service: str, number: int) -> NoticeVersion | None:
    with tenant_scope([school_id]):
        return NoticeVersion.objects.filter(service=service, number=number).first()
