"""What the next retention sweep would delete, and why: the register's rules applied to what is held.

Read-only. Each rule the register states is either evaluated here against the data, or reported
as holding nothing yet (its service is not built), so the preview never silently skips a promise.
The sweep (`services.retention_sweep`) deletes exactly the querysets built here, so what the
preview shows is what the sweep deletes; rows under a legal hold are left out of both and shown
as held, with the hold's reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import Exists, OuterRef, Q, QuerySet

from steward.audit.models import AuditEvent
from steward.audit.selectors import prunable_through
from steward.mis.base import MisRecord
from steward.mis.models import RECORD_MODELS, Learner, SchoolEnrolment
from steward.mis.privacy import dependents
from steward.portal.models import ParentAccount, ParentLink
from steward.register.models import RetentionRule
from steward.retention.models import LegalHold, RetentionProof
from steward.sharing.models import Disclosure
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope

Action = Literal["mis_records", "photos", "rows", "audit_events"]
SUBJECT_RECORD_TYPES = {"learner": "learners", "contact": "contacts", "staff": "staff"}
HANDLED = {
    ("hosted_mis", "contract_end"),
    ("hosted_mis", "leaving_date"),
    ("data_exchange", "event_time"),
    ("parent_portal", "account_closed"),
    ("hosted_mis", "event_time"),
}

# The rules the sweep applies (see HANDLED and `_school_target`), as (service, trigger, category
# code or None). The privacy notice reads this to say which periods the software applies by
# itself: keep it in step with HANDLED.
AUTOMATED_RULES = frozenset(
    {
        ("hosted_mis", "contract_end", None),
        ("hosted_mis", "leaving_date", "learner.photo"),
        ("hosted_mis", "leaving_date", "learner.identity"),
        ("data_exchange", "event_time", None),
        ("parent_portal", "account_closed", None),
        ("hosted_mis", "event_time", "audit.activity"),
    }
)


def rule_key(rule: RetentionRule) -> tuple[str, str, str | None]:
    return (rule.activity.service, rule.trigger, rule.category.code if rule.category else None)


def rule_is_automated(rule: RetentionRule) -> bool:
    """Whether the retention code knows how to apply this rule (the notice flags the others)."""
    return rule_key(rule) in AUTOMATED_RULES


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
    """A rule's deletable rows (one queryset per table) and what the legal holds keep back."""

    rule: RetentionRule
    school: Organisation | None
    what: str
    reason: str
    action: Action
    deletable: list[QuerySet[Any]]
    held: int = 0
    held_reason: str = ""
    rows: int = field(default=0)

    def due(self) -> Due:
        return Due(self.school, self.rule, self.what, self.rows, self.reason, self.held, self.held_reason)


@dataclass(frozen=True)
class Holds:
    """The legal holds in force at one school: whole-school, or MIS source ids per record type."""

    school_reason: str = ""
    source_ids: dict[str, set[str]] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def ids(self, record_type: str) -> set[str]:
        return self.source_ids.get(record_type, set())

    @property
    def all_ids(self) -> set[str]:
        return set().union(*self.source_ids.values()) if self.source_ids else set()


def holds_in_force() -> Holds:
    """The current scope's holds (call inside one school's `tenant_scope`)."""
    school_reasons: list[str] = []
    ids: dict[str, set[str]] = {}
    reasons: list[str] = []
    for hold in LegalHold.objects.filter(lifted_at__isnull=True).order_by("placed_at", "id"):
        if hold.kind == LegalHold.Kind.SCHOOL:
            school_reasons.append(hold.reason)
        else:
            ids.setdefault(SUBJECT_RECORD_TYPES[hold.subject_kind], set()).add(hold.subject_source_id)
            reasons.append(hold.reason)
    return Holds("; ".join(school_reasons), ids, tuple(dict.fromkeys(reasons)))


def hold_on_subject(*, record_type: str, source_id: str) -> str:
    """The reason a subject (or their whole school) may not be erased now, or '' (inside the school's scope)."""
    holds = holds_in_force()
    if holds.school_reason:
        return holds.school_reason
    return "; ".join(holds.reasons) if source_id in holds.ids(record_type) else ""


def retention_preview(*, today: dt.date, schools: list[Organisation], processor_wide: bool = False) -> list[Due]:
    due: list[Due] = []
    rules = _rules()
    for school in schools:
        with tenant_scope([school.id]):
            due += [t.due() for t in school_targets(rules, school, today)]
    if processor_wide:
        with estate_scope(), processor_scope():
            due += [t.due() for t in processor_targets(rules, today)]
    return due


def _rules() -> list[RetentionRule]:
    return list(RetentionRule.objects.select_related("activity", "category").order_by("id"))


def school_targets(rules: list[RetentionRule], school: Organisation, today: dt.date) -> list[Target]:
    """Every rule's rows due at one school (inside its `tenant_scope`); only targets with rows or holds."""
    holds = holds_in_force()
    targets = []
    for rule in rules:
        target = _school_target(rule, school, today, holds)
        if target is not None:
            targets.append(_with_holds(target, holds))
    return [t for t in targets if t.rows or t.held]


def processor_targets(rules: list[RetentionRule], today: dt.date) -> list[Target]:
    """Rules over data that belongs to no one school (inside a scope of every school, to read their holds)."""
    targets = []
    for rule in rules:
        if (rule.activity.service, rule.trigger) == ("parent_portal", "account_closed"):
            targets.append(_closed_portal_accounts(rule, today))
        if rule_key(rule) == ("hosted_mis", "event_time", "audit.activity"):
            targets += _old_audit_records(rule, today)
    return [t for t in targets if t.rows or t.held]


def _with_holds(target: Target, holds: Holds) -> Target:
    rows = sum(qs.count() for qs in target.deletable)
    if holds.school_reason:
        return Target(
            **{**target.__dict__, "deletable": [], "rows": 0, "held": rows, "held_reason": holds.school_reason}
        )
    return Target(**{**target.__dict__, "rows": rows})


def _school_target(rule: RetentionRule, school: Organisation, today: dt.date, holds: Holds) -> Target | None:
    cutoff = today - dt.timedelta(days=rule.period_days)
    key = rule_key(rule)
    if key == ("hosted_mis", "contract_end", None):
        ended = Contract.objects.filter(
            school=school, services__contains=["hosted_mis"], end_date__lt=cutoff, status=Contract.Status.ENDED
        ).exists()
        if not ended:
            return None
        return _held_apart(
            Target(
                rule,
                school,
                "all hosted MIS data",
                f"the contract ended more than {rule.period_days} days ago",
                "mis_records",
                [m.objects.all() for m in RECORD_MODELS],
            ),
            holds,
        )
    if key == ("hosted_mis", "leaving_date", "learner.photo"):
        photos = Learner.objects.filter(source_id__in=leavers_before(cutoff), photo__isnull=False)
        return _held_apart(
            Target(
                rule,
                school,
                "photographs of learners who left",
                f"left more than {rule.period_days} days ago",
                "photos",
                [photos],
            ),
            holds,
        )
    if key == ("hosted_mis", "leaving_date", "learner.identity"):
        leavers = leavers_before(cutoff)
        return _held_apart(
            Target(
                rule,
                school,
                "records of learners who left",
                f"left more than {rule.period_days} days ago",
                "mis_records",
                [Learner.objects.filter(source_id__in=leavers)]
                + [model.objects.filter(**{f"{field}__in": leavers}) for model, field in dependents("learners")],
            ),
            holds,
        )
    if key == ("data_exchange", "event_time", None):
        old = Disclosure.objects.filter(at__date__lt=cutoff)
        return _held_apart(
            Target(rule, school, "disclosure log entries", f"older than {rule.period_days} days", "rows", [old]),
            holds,
        )
    return None


def leavers_before(cutoff: dt.date) -> list[str]:
    """Source ids of learners whose every enrolment ended before the cutoff (inside the school's scope).

    Taken as a list, once, so that the target's querysets do not change under the sweep as it
    deletes the enrolments the condition reads: the preview's rows are the sweep's rows.
    """
    current = SchoolEnrolment.objects.filter(Q(leaving_date__isnull=True) | Q(leaving_date__gte=cutoff)).values(
        "learner_source_id"
    )
    left = SchoolEnrolment.objects.filter(leaving_date__lt=cutoff).exclude(learner_source_id__in=current)
    return sorted(set(left.values_list("learner_source_id", flat=True)))


def _held_apart(target: Target, holds: Holds) -> Target:
    """Take the rows of subjects under a legal hold out of the target, and count them as held."""
    held_ids = holds.all_ids
    if not held_ids or holds.school_reason:
        return target
    deletable, held = [], 0
    for qs in target.deletable:
        kept = qs.filter(_held_rows(qs.model, holds))
        held += kept.count()
        deletable.append(qs.exclude(pk__in=kept.values("pk")))
    return Target(**{**target.__dict__, "deletable": deletable, "held": held, "held_reason": "; ".join(holds.reasons)})


def _held_rows(model: type[Any], holds: Holds) -> Q:
    """Rows that are, or refer to, a held subject: by source id, by reference, or by a disclosure's subjects."""
    if model is Disclosure:
        return Q(subject_ids__overlap=sorted(holds.all_ids))
    if not issubclass(model, MisRecord):
        return Q(pk__in=[])
    condition = Q(source_id__in=holds.ids(model.record_type)) if holds.ids(model.record_type) else Q(pk__in=[])
    for column, record_type in model.references.items():
        if holds.ids(record_type):
            condition |= Q(**{f"{column}__in": holds.ids(record_type)})
    return condition


def _closed_portal_accounts(rule: RetentionRule, today: dt.date) -> Target:
    cutoff = dt.datetime.combine(today - dt.timedelta(days=rule.period_days), dt.time.min, tzinfo=dt.UTC)
    closed = ParentAccount.objects.filter(closed_at__lt=cutoff)
    held_links = ParentLink.objects.filter(parent=OuterRef("pk")).filter(
        Q(school_id__in=LegalHold.objects.filter(kind=LegalHold.Kind.SCHOOL, lifted_at__isnull=True).values("school"))
        | Q(
            Exists(
                LegalHold.objects.filter(
                    kind=LegalHold.Kind.SUBJECT,
                    subject_kind=LegalHold.SubjectKind.CONTACT,
                    lifted_at__isnull=True,
                    school_id=OuterRef("school_id"),
                    subject_source_id=OuterRef("contact_source_id"),
                )
            )
        )
    )
    held = closed.filter(Exists(held_links))
    reasons = LegalHold.objects.filter(lifted_at__isnull=True).values_list("reason", flat=True).distinct()
    held_count = held.count()
    deletable = closed.exclude(pk__in=held.values("pk"))
    return Target(
        rule,
        None,
        "closed parent portal accounts",
        f"closed more than {rule.period_days} days ago",
        "rows",
        [deletable],
        held=held_count,
        held_reason="; ".join(reasons) if held_count else "",
        rows=deletable.count(),
    )


def _old_audit_records(rule: RetentionRule, today: dt.date) -> list[Target]:
    """Audit events past the rule's period (a prefix of the chain), and retention proofs of the same age.

    The proofs are the processor's accountability records, not tenant data and not personal data:
    the register has no rule of their own, so they follow the audit log's six years, the period in
    which a complaint or claim about the deletion they prove could be brought. An event of a school
    under a whole-school legal hold stops the prune there (the chain can only lose a prefix).
    """
    cutoff = dt.datetime.combine(today - dt.timedelta(days=rule.period_days), dt.time.min, tzinfo=dt.UTC)
    held_schools = LegalHold.objects.filter(kind=LegalHold.Kind.SCHOOL, lifted_at__isnull=True)
    through = prunable_through(before=cutoff, keep_schools=held_schools.values_list("school_id", flat=True))
    events = AuditEvent.objects.filter(id__lte=through) if through is not None else AuditEvent.objects.none()
    rows = events.count()
    held = 0
    if held_schools.exists():
        held = AuditEvent.objects.filter(occurred_at__lt=cutoff, id__gt=through or 0).count()
    reason = f"older than {rule.period_days} days"
    # Fixed ids, not a condition: the sweep writes proofs as it goes, and deletes only what was previewed.
    proofs = RetentionProof.objects.filter(
        pk__in=list(RetentionProof.objects.filter(at__lt=cutoff).values_list("pk", flat=True))
    )
    return [
        Target(
            rule,
            None,
            "audit events older than six years",
            reason,
            "audit_events",
            [events],
            held=held,
            held_reason="; ".join(held_schools.values_list("reason", flat=True)) if held else "",
            rows=rows,
        ),
        Target(rule, None, "retention proofs older than six years", reason, "rows", [proofs], rows=proofs.count()),
    ]


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
