"""Which fields of which record types a set of data categories releases, and whose data each row is.

Derived from the field classification next to each `mis` model, so approving a category can
never release a field the register does not place in it.
"""

from __future__ import annotations

from functools import cache

from steward.ingest.schema import spec_for
from steward.mis.models import RECORD_MODELS
from steward.register.classification import PersonalData

# Reference field -> the subject record type it names.
SUBJECT_REFERENCES = {"learner_source_id": "learners", "contact_source_id": "contacts", "staff_source_id": "staff"}
SUBJECT_TYPES = frozenset({"learners", "contacts", "staff"})
# Fields without personal data (a group's name, the school's address) are released with the
# category that gives them meaning.
COMPANION_TYPES = {"groups": "learner.groups", "school-details": "staff.work_contact"}


@cache
def field_categories() -> dict[str, dict[str, str]]:
    """record type -> {field: category code} for every classified data field."""
    result: dict[str, dict[str, str]] = {}
    for model in RECORD_MODELS:
        spec = spec_for(model.record_type)
        classification = model.__dict__.get("privacy")
        names = [c.name for c in spec.columns if c.name != "source_id"]
        personal = classification.fields if isinstance(classification, PersonalData) else {}
        companion = COMPANION_TYPES.get(model.record_type)
        mapping = {n: personal[n] for n in names if n in personal}
        if companion:
            mapping.update({n: companion for n in names if n not in personal})
        if mapping:
            result[model.record_type] = mapping
    return result


def fields_for_categories(categories: set[str]) -> set[str]:
    """Every `record-type.field` the categories cover (identifiers come with any released type)."""
    released = set()
    for record_type, fields in field_categories().items():
        chosen = {f for f, category in fields.items() if category in categories}
        if chosen:
            released |= {f"{record_type}.{f}" for f in chosen}
    return released


def released_types(fields: set[str]) -> set[str]:
    return {f.split(".", 1)[0] for f in fields}


def subject_fields(record_type: str) -> dict[str, str]:
    """Fields of a record that name a subject, with the subject's record type."""
    if record_type in SUBJECT_TYPES:
        return {"source_id": record_type}
    names = {c.name for c in spec_for(record_type).columns}
    return {f: t for f, t in SUBJECT_REFERENCES.items() if f in names}
