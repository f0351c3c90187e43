"""Queries on consents, agreements and marketing preferences (tenant ones: call inside a scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from steward.consents.models import Consent, DataUseAgreement, MarketingPreference
from steward.tenancy.models import User


def consents_for_school(*, school_id: int) -> QuerySet[Consent]:
    """Every consent the school gave, newest first: ended ones stay listed as the record."""
    return (
        Consent.objects.filter(school_id=school_id)
        .select_related("given_by", "withdrawn_by")
        .order_by("-given_at", "-id")
    )


def agreements_for_school(*, school_id: int) -> QuerySet[DataUseAgreement]:
    return (
        DataUseAgreement.objects.filter(school_id=school_id).select_related("signed_by").order_by("-signed_at", "-id")
    )


def marketing_preference(*, user: User, channel: str) -> MarketingPreference | None:
    """The choice in force (the newest); None when the user never chose, which means no mail."""
    found: MarketingPreference | None = (
        MarketingPreference.objects.filter(user=user, channel=channel).order_by("-recorded_at", "-id").first()
    )
    return found
