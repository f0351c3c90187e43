"""What the next retention sweep would delete, and why: the register's rules applied to what is held.

Read-only. Each rule the register states is either evaluated here against the data, through the
target its owning app declared (`register.retention_targets`), or reported as holding nothing yet
(no app declares it: its service is not built), so the preview never silently skips a promise.
The sweep (`services.retention_sweep`) deletes exactly the querysets built here, so what the
preview shows is what the sweep deletes; rows under a legal hold are left out of both and shown
as held, with the hold's reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from steward.register.models import RetentionRule
from steward.register.retention_targets import (
    Context,
    Found,
    Hold,
    Holds,
    RetentionTarget,
    RuleKey,
    delete_rows,
    has_target,
    rule_key,
    target_for,
)
from steward.retention.models import LegalHold, RetentionProof
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope

__all__ = ["Holds", "rule_is_automated", "rule_key"]

SUBJECT_RECORD_TYPES = {"learner": "learners", "contact": "contacts", "staff": "staff"}

# The retention proofs are the processor's accountability records, not tenant data and not personal
# data: the register has no rule of their own, so they follow the audit log's six years, the period
# in which a complaint or claim about the deletion they prove could be brought.
PROOFS_FOLLOW: RuleKey = ("hosted_mis", "event_time", "audit.activity")


def rule_is_automated(rule: RetentionRule) -> bool:
    """Whether an app declares how to apply this rule (the notice flags the others)."""
    return has_target(rule_key(rule))


@dataclass(frozen=True)
class Due:
    school: Organisation | None  # None: processor-wide (portal accounts belong to no one school)
    rule: RetentionRule
    what: str
    rows: int
    reason: str
    held: int = 0
    held_reason: str = ""


@dataclass(frozen=True)
class Target:
    """A rule's deletable rows (one queryset per table), the declaration that deletes them, and what
    the legal holds keep back."""

    rule: RetentionRule
    school: Organisation | None
    declared: RetentionTarget
    found: Found
    rows: int

    @property
    def what(self) -> str:
        return self.found.what

    @property
    def held(self) -> int:
        return self.found.held

    def due(self) -> Due:
        f = self.found
        return Due(self.school, self.rule, f.what, self.rows, f.reason, f.held, f.held_reason)


def holds_in_force() -> Holds:
    """The current scope's holds: one school's inside its `tenant_scope`, every school's in a scope of all."""
    return Holds(
        tuple(
            Hold(
                school_id=hold.school_id,
                reason=hold.reason,
                record_type=SUBJECT_RECORD_TYPES[hold.subject_kind] if hold.kind == LegalHold.Kind.SUBJECT else "",
                source_id=hold.subject_source_id if hold.kind == LegalHold.Kind.SUBJECT else "",
            )
            for hold in LegalHold.objects.filter(lifted_at__isnull=True).order_by("placed_at", "id")
        )
    )


def hold_on_subject(*, record_type: str, source_id: str) -> str:
    """The reason a subject (or their whole school) may not be erased now, or '' (inside the school's scope)."""
    holds = holds_in_force()
    if holds.school_reason:
        return holds.school_reason
    return "; ".join(holds.reasons) if source_id in holds.ids(record_type) else ""


def retention_preview(*, today: dt.date, schools: list[Organisation], processor_wide: bool = False) -> list[Due]:
    """What the sweep would delete at each school (in the order given, then processor-wide), set-based:
    every target finds its rows at all the schools at once, inside one scope of them all, and each
    queryset is counted once, grouped by school. So the queries do not grow with the number of
    schools (27 for any number in `tests/retention/test_preview.py`'s set-up, where counting school
    by school took 22 a school), and the numbers are those the sweep's `school_targets` finds
    school by school."""
    due: list[Due] = []
    rules = _rules()
    if schools:
        with tenant_scope([school.id for school in schools]):
            due += _schools_due(rules, schools, today)
    if processor_wide:
        with estate_scope(), processor_scope():
            due += [t.due() for t in processor_targets(rules, today)]
    return due


def _schools_due(rules: list[RetentionRule], schools: list[Organisation], today: dt.date) -> list[Due]:
    """`school_targets` of every school at once (inside a scope of them all), as `Due`s, school by school.

    A whole-school hold keeps everything at that school: all its rows found are counted as held."""
    holds = holds_in_force()
    ctx = Context(None, today, holds, tuple(school.id for school in schools))
    counted: list[tuple[RetentionRule, Found, dict[int, int], dict[int, int]]] = []
    for rule, declared in _declared(rules, "school"):
        for found in declared.find(rule, ctx):
            counted.append((rule, found, _per_school(found.deletable), _per_school(found.held_rows)))
    due = []
    for school in schools:
        mine = holds.of_school(school.id)
        for rule, found, rows_at, held_at in counted:
            rows, held = rows_at.get(school.id, 0), held_at.get(school.id, 0)
            held_reason = "; ".join(mine.reasons) if found.held_reason else ""
            if mine.school_reason:
                rows, held, held_reason = 0, rows, mine.school_reason
            if rows or held:
                due.append(Due(school, rule, found.what, rows, found.reason, held, held_reason))
    return due


def _per_school(querysets: list[QuerySet[Any]]) -> dict[int, int]:
    """Each queryset's rows counted per school (one grouped query each), summed over the querysets."""
    counts: dict[int, int] = {}
    for qs in querysets:
        for school_id, n in (
            qs.order_by().values_list("school_id").annotate(n=Count("pk")).values_list("school_id", "n")
        ):
            counts[school_id] = counts.get(school_id, 0) + n
    return counts


def _rules() -> list[RetentionRule]:
    return list(RetentionRule.objects.select_related("activity", "category").order_by("id"))


def _declared(rules: list[RetentionRule], scope: str) -> list[tuple[RetentionRule, RetentionTarget]]:
    """The rules an app declares a target for in this scope (the others are `unevaluated_rules`)."""
    found = [(rule, target_for(rule_key(rule))) for rule in rules if has_target(rule_key(rule))]
    return [(rule, target) for rule, target in found if target.scope == scope]


def school_targets(rules: list[RetentionRule], school: Organisation, today: dt.date) -> list[Target]:
    """Every rule's rows due at one school (inside its `tenant_scope`); only targets with rows or holds.

    A whole-school legal hold keeps everything: all the rows found are counted as held."""
    holds = holds_in_force()
    ctx = Context(school.id, today, holds)
    targets = []
    for rule, declared in _declared(rules, "school"):
        for found in declared.find(rule, ctx):
            rows = sum(qs.count() for qs in found.deletable)
            if holds.school_reason:
                found = Found(found.what, found.reason, [], rows, holds.school_reason)
                rows = 0
            targets.append(Target(rule, school, declared, found, rows))
    return [t for t in targets if t.rows or t.held]


def processor_targets(rules: list[RetentionRule], today: dt.date) -> list[Target]:
    """Rules over data that belongs to no one school (inside a scope of every school, to read their holds)."""
    ctx = Context(None, today, holds_in_force())
    targets = []
    for rule, declared in _declared(rules, "processor"):
        for found in declared.find(rule, ctx):
            targets.append(Target(rule, None, declared, found, sum(qs.count() for qs in found.deletable)))
        if declared.key == PROOFS_FOLLOW:
            targets += _old_retention_proofs(rule, ctx)
    return [t for t in targets if t.rows or t.held]


def _old_retention_proofs(rule: RetentionRule, ctx: Context) -> list[Target]:
    """Retention proofs as old as the audit events the rule prunes (`PROOFS_FOLLOW`)."""
    # Fixed ids, not a condition: the sweep writes proofs as it goes, and deletes only what was previewed.
    proofs = RetentionProof.objects.filter(
        pk__in=list(RetentionProof.objects.filter(at__lt=ctx.cutoff_time(rule)).values_list("pk", flat=True))
    )
    found = Found("retention proofs older than six years", f"older than {rule.period_days} days", [proofs])
    return [Target(rule, None, _PROOFS, found, proofs.count())]


def _found_by_the_audit_rule(rule: RetentionRule, ctx: Context) -> list[Found]:
    return []  # the proofs' rows are found above, beside the audit rule's own target


# Retention's own proofs, deleted as plain rows; not registered: the rule's declared target is audit's.
_PROOFS = RetentionTarget(
    "hosted_mis", "event_time", "audit.activity", "processor", _found_by_the_audit_rule, delete_rows
)


def unevaluated_rules() -> list[RetentionRule]:
    """Rules whose data no built service holds yet (rostering links, tickets)."""
    return [
        r
        for r in RetentionRule.objects.select_related("activity", "category").order_by("activity__name")
        if not rule_is_automated(r)
    ]


def terminations() -> list[Any]:
    """Every contract termination, newest first (the processor's records, read under its scope)."""
    from steward.retention.models import ContractTermination

    with processor_scope():
        return list(ContractTermination.objects.select_related("school", "contract"))


def termination(termination_id: int, *, purged: bool | None = None) -> Any:
    """One contract termination (only purged ones with `purged=True`), or None; under the processor scope."""
    from steward.retention.models import ContractTermination

    found = ContractTermination.objects.select_related("school", "contract").filter(pk=termination_id)
    if purged is not None:
        found = found.filter(purged_at__isnull=not purged)
    with processor_scope():
        return found.first()


def open_termination_for_school(*, school_id: int) -> Any:
    """The school's termination whose export is waiting to be downloaded, if any."""
    from steward.retention.models import ContractTermination

    return (
        ContractTermination.objects.filter(school_id=school_id, purged_at__isnull=True).exclude(export_file="").first()
    )


def purge_refusals(termination: Any, *, now: dt.datetime) -> list[str]:
    """Why the school's data may not be purged yet, in words (empty when it may): the same rules
    `termination.termination_purge` enforces, so the back office offers "Purge" only when it would work."""
    if termination.purged_at:
        return ["already purged"]
    refusals = []
    if now < termination.purge_not_before:
        refusals.append(f"the school has until {timezone.localtime(termination.purge_not_before):%-d %B %Y %H:%M}")
    with tenant_scope([termination.school_id]):
        holds = list(LegalHold.objects.filter(lifted_at__isnull=True).values_list("reason", flat=True))
    refusals += [f"a legal hold stops the purge: {reason}" for reason in holds]
    return refusals


BACKUP_STATUSES = {
    "verified": "Verified: it restores",
    "failed": "Failed verification",
    "unverified": "Not verified yet",
}


def backup_copies(*, status: str = "", limit: int = 500) -> list[Any]:
    """The backup copies, newest first, optionally only those of one verification status
    (a key of `BACKUP_STATUSES`). Backup copies hold no school's rows: the processor's records."""
    from steward.retention.models import BackupCopy

    copies = BackupCopy.objects.order_by("-taken_at", "-id")
    if status == "verified":
        copies = copies.filter(verified_ok=True)
    elif status == "failed":
        copies = copies.filter(verified_ok=False)
    elif status == "unverified":
        copies = copies.filter(verified_at__isnull=True)
    return list(copies[:limit])
