"""Read-side queries on the processing register."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from steward.register.models import DataCategory, ProcessingActivity, Recipient, RetentionRule
from steward.register.providers import PrivacyProvider, providers


def all_activities() -> QuerySet[ProcessingActivity]:
    return ProcessingActivity.objects.prefetch_related(
        Prefetch("categories", queryset=DataCategory.objects.order_by("code")),
        "subject_types",
        "recipients",
        "places",
        Prefetch("retention_rules", queryset=RetentionRule.objects.select_related("category")),
    ).order_by("name")


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
