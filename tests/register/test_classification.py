"""Privacy metadata is code: every personal-data field names a category the register defines."""

from __future__ import annotations

import pytest
from django.apps import apps

from steward.register.classification import NoPersonalData, PersonalData, classification_of, unclassified_fields
from steward.register.models import DataCategory, DataSubjectType
from steward.register.providers import providers


def test_every_installed_model_is_classified() -> None:
    missing = [m._meta.label_lower for m in apps.get_models() if classification_of(m) is None]
    assert missing == [], f"classify these models in the register (PersonalData or NoPersonalData): {missing}"


def test_every_field_of_a_personal_data_model_has_a_category_or_is_declared_not_personal() -> None:
    problems = {m._meta.label_lower: unclassified_fields(m) for m in apps.get_models()}
    assert {label: fields for label, fields in problems.items() if fields} == {}


def test_classifications_name_only_fields_that_exist() -> None:
    stale = {}
    for model in apps.get_models():
        classification = classification_of(model)
        if isinstance(classification, PersonalData):
            names = {f.name for f in model._meta.concrete_fields}
            extra = (set(classification.fields) | classification.not_personal) - names - {"id"}
            if extra:
                stale[model._meta.label_lower] = sorted(extra)
    assert stale == {}


@pytest.mark.django_db
def test_every_category_and_subject_used_by_a_model_is_defined_in_the_register() -> None:
    known_categories = set(DataCategory.objects.values_list("code", flat=True))
    known_subjects = set(DataSubjectType.objects.values_list("code", flat=True))
    used = {}
    for model in apps.get_models():
        classification = classification_of(model)
        if isinstance(classification, PersonalData):
            used[model._meta.label_lower] = (classification.subject, classification.categories())
    undefined = {
        label: sorted(cats - known_categories) + ([subject] if subject not in known_subjects else [])
        for label, (subject, cats) in used.items()
        if (cats - known_categories) or subject not in known_subjects
    }
    assert undefined == {}


def test_a_model_missing_from_the_register_is_caught() -> None:
    """The walk really fails: a model with an unnamed field is reported."""
    from django.db import models

    class Probe(models.Model):  # noqa: DJ008
        nickname = models.CharField(max_length=10)
        privacy = PersonalData(subject="learner", fields={})

        class Meta:
            app_label = "register"
            managed = False

    assert unclassified_fields(Probe) == ["nickname"]
    assert isinstance(classification_of(DataCategory), NoPersonalData)


def test_every_app_holding_personal_data_implements_the_privacy_provider() -> None:
    apps_with_personal_data = {
        m._meta.app_label
        for m in apps.get_models()
        if isinstance(classification_of(m), PersonalData) and m.__module__.startswith("steward.")
    }
    implemented = {p.app_label for p in providers()}
    assert apps_with_personal_data <= implemented, apps_with_personal_data - implemented
    described = {h.model.lower() for p in providers() for h in p.describe()}
    own_models = {
        m._meta.label_lower
        for m in apps.get_models()
        if isinstance(classification_of(m), PersonalData) and m.__module__.startswith("steward.")
    }
    assert own_models <= described, own_models - described
