"""The code-to-label map is complete: every field a flow, a consent or a bundle can name, every MIS
record type, every service, category and personal-data model has words a person can read, and no label
is itself a code."""

from __future__ import annotations

import re

import pytest

from steward.mis.models import RECORD_MODELS
from steward.register import labels
from steward.register.catalogue import ACTIVITIES, CATEGORIES
from steward.register.classification import personal_data_models
from steward.sharing.catalogue import field_categories

CODE_LIKE = re.compile(r"[_]|^[a-z]+\.[A-Za-z]")


def test_every_shareable_field_has_a_label_of_its_own() -> None:
    missing = [
        f"{record_type}.{name}"
        for record_type, fields in field_categories().items()
        for name in fields
        if name not in labels.FIELD_LABELS and f"{record_type}.{name}" not in labels.RECORD_FIELD_LABELS
    ]
    assert not missing, f"add a label for {missing} to steward.register.labels.FIELD_LABELS"


def test_every_record_type_service_and_category_has_a_label() -> None:
    assert {m.record_type for m in RECORD_MODELS} <= set(labels.RECORD_TYPE_LABELS)
    assert {a.service for a in ACTIVITIES} == set(labels.SERVICE_LABELS)
    assert {c.code for c in CATEGORIES} == set(labels.CATEGORY_LABELS)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("legal_forename", "Legal first name"),
        ("learners.legal_forename", "Legal first name"),
        ("school-details.name", "School name"),
        ("mis.SessionAttendance", "Attendance"),
        ("mis.sessionattendance", "Attendance"),
        ("rights.RightsRequest", "Rights requests"),
        ("hosted_mis", "Hosted MIS data"),
        ("sign_in_failed", "Sign-in failed"),
        ("something_new", "Something new"),
    ],
)
def test_codes_become_words(code: str, words: str) -> None:
    found = {
        labels.field_label(code),
        labels.model_label(code),
        labels.service_label(code),
        labels.action_label(code),
    }
    assert words in found


def test_no_label_is_a_code() -> None:
    every = [
        *labels.FIELD_LABELS.values(),
        *labels.RECORD_FIELD_LABELS.values(),
        *labels.RECORD_TYPE_LABELS.values(),
        *labels.SERVICE_LABELS.values(),
        *labels.CATEGORY_LABELS.values(),
        *labels.ACTION_LABELS.values(),
        *(labels.model_label(m._meta.label) for m, _ in personal_data_models()),
    ]
    assert not [w for w in every if CODE_LIKE.search(w)]
    assert "mis.SessionAttendance" in labels.codes() and "legal_forename" in labels.codes()
    assert "learners" not in labels.codes()  # an ordinary word is never treated as a code
