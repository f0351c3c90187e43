"""Read-side queries on the processing register."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from steward.register.models import DataCategory, ProcessingActivity, Recipient, RetentionRule
from steward.register.providers import PrivacyProvider, providers
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
