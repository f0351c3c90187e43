"""The register loaded by the data migration holds what the law and the product need."""

from __future__ import annotations

import pytest

from steward.register.catalogue import check_catalogue
from steward.register.models import DataCategory, LawfulBasis, ProcessingActivity, Recipient

pytestmark = pytest.mark.django_db


def test_the_five_services_are_registered() -> None:
    assert sorted(ProcessingActivity.objects.values_list("service", flat=True)) == sorted(
        ProcessingActivity.Service.values
    )


def test_an_activity_processing_special_categories_names_an_article_9_condition() -> None:
    for activity in ProcessingActivity.objects.prefetch_related("categories"):
        special = [c.code for c in activity.categories.all() if c.special_category]
        if special:
            assert activity.special_conditions, f"{activity.service} processes {special} with no Art. 9 condition"
            assert activity.special_condition_explanation


def test_lawful_bases_are_real_article_6_bases_with_explanations() -> None:
    for activity in ProcessingActivity.objects.all():
        assert activity.lawful_bases and set(activity.lawful_bases) <= set(LawfulBasis.values)
        assert activity.lawful_basis_explanation


def test_special_categories_are_flagged() -> None:
    special = set(DataCategory.objects.filter(special_category=True).values_list("code", flat=True))
    assert {
        "learner.special.ethnicity",
        "learner.special.religion",
        "learner.special.sen",
        "learner.special.medical",
    } <= special
    assert "learner.identity" not in special


def test_a_recipient_outside_the_uk_without_a_safeguard_may_not_receive_data() -> None:
    overseas = Recipient.objects.get(code="overseas-learning-app")
    assert (overseas.outside_uk_eea, overseas.may_receive) == (True, False)
    la = Recipient.objects.get(code="la-attendance")
    assert (la.outside_uk_eea, la.may_receive) == (False, True)


def test_every_activity_has_recipients_places_and_retention() -> None:
    for activity in ProcessingActivity.objects.all():
        assert activity.places.exists(), activity.service
        assert activity.retention_rules.filter(category__isnull=True).exists(), activity.service


def test_the_catalogue_checks_itself() -> None:
    check_catalogue()  # raises ValueError naming the offending code when inconsistent
