"""How much reading one record of a type counts for, from the register's classification.

A record type whose classified fields are mostly special category data (Art. 9: health, SEN,
ethnicity, religion) counts `weight_special` (a pupil's main record, with an ethnicity field among
twenty, does not: reading it is not reading health data); a safeguarding-related type (exclusions,
behaviour, by setting) counts `weight_safeguarding`; everything else `weight_default`. Read from
each model's `privacy` declaration, so a newly classified field changes the weight without touching
the rule.
"""

from __future__ import annotations

from django.apps import apps

from steward.monitoring.config import rule_settings
from steward.register.catalogue import CATEGORIES
from steward.register.classification import PersonalData

SPECIAL = frozenset(c.code for c in CATEGORIES if c.special_category)


def record_weights() -> dict[str, int]:
    """Model label ("mis.SpecialNeeds") -> weight, for every model that is weighted above the default."""
    cfg = rule_settings("bulk_reads")
    weights: dict[str, int] = {}
    for model in apps.get_models():
        privacy = getattr(model, "privacy", None)
        if not isinstance(privacy, PersonalData) or not privacy.fields:
            continue
        special = sum(1 for category in privacy.fields.values() if category in SPECIAL)
        if special * 2 > len(privacy.fields):
            weights[model._meta.label] = int(cfg["weight_special"])
    for label in cfg["safeguarding_types"]:
        weights.setdefault(label, int(cfg["weight_safeguarding"]))
    return weights


def weight_sql() -> str:
    """A SQL CASE over an audit event's `e.object_type` times the number of records it names (at
    least one). Worked out at each pass, so a change of classification or setting counts at once."""
    default = int(rule_settings("bulk_reads")["weight_default"])
    cases = " ".join(
        f"WHEN '{label}' THEN {int(w)}"
        for label, w in sorted(record_weights().items())
        if label.replace(".", "").isalnum()
    )
    return (
        f"greatest(cardinality(e.object_ids), 1) * CASE e.object_type {cases} ELSE {default} END"
        if cases
        else f"greatest(cardinality(e.object_ids), 1) * {default}"
    )
