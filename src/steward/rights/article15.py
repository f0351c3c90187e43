"""What Art. 15(1)(a)-(h) requires a subject access answer to say besides the data itself.

Purposes, categories, recipients, retention, the rights to rectify, erase, restrict and object,
the right to complain to the ICO, and the source of the data. Each comes from a record Steward
already keeps (the school's register through its contracts, the categories the providers declare,
the disclosure log), so the answer cannot drift from what the notices and logs say.
"""

from __future__ import annotations

from typing import Any

from steward.register.models import DataCategory
from steward.register.providers import providers
from steward.tenancy.selectors import activities_for_school

RIGHTS = [
    "to have information that is wrong corrected (Article 16)",
    "to have information erased where the law allows (Article 17)",
    "to have its use restricted while a question is settled (Article 18)",
    "to object to its use for a public task or legitimate interests (Article 21)",
    "to receive information you provided in a portable form where it applies (Article 20)",
]
COMPLAINT = (
    "If you are unhappy with how the school has used your information or answered this request, you can "
    "complain to the Information Commissioner's Office: ico.org.uk/make-a-complaint, 0303 123 1113."
)
SOURCES = {
    "learner": "The school's management information system (MIS): information from you, your family, the school "
    "and any previous school.",
    "contact": "The school's management information system (MIS): information you gave the school.",
    "staff": "The school's management information system (MIS): information from you and your employer.",
    "school_user": "Your Steward account and what you did while signed in.",
    "parent_user": "Your parent portal account and what you did while signed in.",
}


def information(*, school_id: int, subject_kind: str, held: dict[str, Any], sent_to: list[str]) -> dict[str, Any]:
    """The Art. 15 information for one subject at one school, as JSON-ready text."""
    activities = list(
        activities_for_school(school_id=school_id)
        .filter(subject_types__code=subject_kind)
        .prefetch_related("recipients", "retention_rules__category")
        .distinct()
    )
    models = {model for exported in held.values() for model in exported}
    codes = {c for p in providers() for h in p.describe() if h.model in models for c in h.categories}
    categories = list(DataCategory.objects.filter(code__in=codes).order_by("name").values_list("name", flat=True))
    may_receive = sorted({r.name for a in activities for r in a.recipients.all()})
    retention = [
        f"{rule.category.name if rule.category else a.name}: kept {rule.period_days} days {rule.get_trigger_display()}"
        for a in activities
        for rule in a.retention_rules.all()
    ]
    return {
        "purposes": [{"service": a.name, "purposes": list(a.purposes)} for a in activities],
        "categories": categories,
        "recipients": {"sent_to": sorted(set(sent_to)), "may_receive": may_receive},
        "retention": retention,
        "rights": RIGHTS,
        "complaint": COMPLAINT,
        "source": SOURCES.get(subject_kind, ""),
    }
