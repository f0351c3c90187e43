"""What the next retention sweep would delete, and why: the register's rules applied to what is held.

Read-only. Each rule the register states is either evaluated here against the data, or reported
as holding nothing yet (its service is not built), so the preview never silently skips a promise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from steward.mis.models import RECORD_MODELS, Learner, SchoolEnrolment
from steward.register.models import RetentionRule
from steward.sharing.models import Disclosure
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import tenant_scope

# The rules `_apply` evaluates, as (service, trigger, category code or None). The privacy notice reads
# this to say which periods the software applies by itself: keep it in step with `_apply`.
AUTOMATED_RULES = frozenset(
    {
        ("hosted_mis", "contract_end", None),
        ("hosted_mis", "leaving_date", "learner.photo"),
        ("data_exchange", "event_time", None),
    }
)


def rule_key(rule: RetentionRule) -> tuple[str, str, str | None]:
    return (rule.activity.service, rule.trigger, rule.category.code if rule.category else None)


def rule_is_automated(rule: RetentionRule) -> bool:
    """Whether the retention code knows how to apply this rule (the notice flags the others)."""
    return rule_key(rule) in AUTOMATED_RULES


@dataclass(frozen=True)
class Due:
    school: Organisation
    rule: RetentionRule
    what: str
    rows: int
    reason: str


def retention_preview(*, today: dt.date, schools: list[Organisation]) -> list[Due]:
    due: list[Due] = []
    rules = list(RetentionRule.objects.select_related("activity", "category"))
    for school in schools:
        with tenant_scope([school.id]):
            for rule in rules:
                due += _apply(rule, school, today)
    return due


def _apply(rule: RetentionRule, school: Organisation, today: dt.date) -> list[Due]:
    cutoff = today - dt.timedelta(days=rule.period_days)
    key = rule_key(rule)
    if key == ("hosted_mis", "contract_end", None):
        ended = Contract.objects.filter(
            school=school, services__contains=["hosted_mis"], end_date__lt=cutoff, status=Contract.Status.ENDED
        ).exists()
        if not ended:
            return []
        rows = sum(m.objects.count() for m in RECORD_MODELS)
        return [
            Due(school, rule, "all hosted MIS data", rows, f"the contract ended more than {rule.period_days} days ago")
        ]
    if key == ("hosted_mis", "leaving_date", "learner.photo"):
        left = SchoolEnrolment.objects.filter(leaving_date__lt=cutoff).values("learner_source_id")
        current = SchoolEnrolment.objects.filter(Q(leaving_date__isnull=True) | Q(leaving_date__gte=cutoff)).values(
            "learner_source_id"
        )
        rows = Learner.objects.filter(source_id__in=left, photo__isnull=False).exclude(source_id__in=current).count()
        return (
            [Due(school, rule, "photographs of learners who left", rows, f"left more than {rule.period_days} days ago")]
            if rows
            else []
        )
    if key == ("data_exchange", "event_time", None):
        rows = Disclosure.objects.filter(at__date__lt=cutoff).count()
        return (
            [Due(school, rule, "disclosure log entries", rows, f"older than {rule.period_days} days")] if rows else []
        )
    return []


def unevaluated_rules() -> list[RetentionRule]:
    """Rules whose data no built service holds yet (portal accounts, rostering links, tickets)."""
    return [
        r
        for r in RetentionRule.objects.select_related("activity", "category").order_by("activity__name")
        if not rule_is_automated(r)
    ]
