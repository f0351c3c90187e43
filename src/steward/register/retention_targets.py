"""Retention targets: what each retention rule of the register deletes, declared by the app that owns the data.

Why a registry: the retention app applies rules to data it does not own (MIS records, the disclosure
log, portal accounts, the audit log). If it picked those tables itself it would import every app,
faces included, and a new rule would mean editing retention. Instead, like the privacy providers
(`providers.py`), each app declares in its `AppConfig.ready` the rules over its own data: the rule's
key, how to find what is due (the preview's count and the sweep's rows are the same querysets), how
to delete it set-based, and how to delete it again after a backup is restored. The sweep, the
preview and the contract-termination purge only iterate over these declarations.

Legal holds are retention's; they reach a target as plain data (`Holds`), so that a target in a
lower layer (mis, audit) can leave held rows out without importing retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import connection
from django.db.models import Q, QuerySet

from steward.register.catalogue import ACTIVITIES
from steward.register.models import RetentionRule

RuleKey = tuple[str, str, str | None]
"""(activity's service, trigger, category code or None): how the catalogue names a retention rule."""

Scope = Literal["school", "processor"]
"""school: found and deleted inside one school's tenant scope; processor: data of no one school."""


def rule_key(rule: RetentionRule) -> RuleKey:
    return (rule.activity.service, rule.trigger, rule.category.code if rule.category else None)


@dataclass(frozen=True)
class Hold:
    """One legal hold in force: a whole school (no record type) or one subject's MIS source id."""

    school_id: int
    reason: str
    record_type: str = ""
    source_id: str = ""


@dataclass(frozen=True)
class Holds:
    """The legal holds in force in the current scope (one school's, or every school's for processor targets)."""

    holds: tuple[Hold, ...] = ()

    @property
    def school_reason(self) -> str:
        """The reasons of whole-school holds, joined; '' when there are none."""
        return "; ".join(h.reason for h in self.holds if not h.record_type)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The distinct reasons of subject holds, in the order they were placed."""
        return tuple(dict.fromkeys(h.reason for h in self.holds if h.record_type))

    @property
    def all_reasons(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.reason for h in self.holds))

    @property
    def held_school_ids(self) -> list[int]:
        return sorted({h.school_id for h in self.holds if not h.record_type})

    def ids(self, record_type: str) -> set[str]:
        return {h.source_id for h in self.holds if h.record_type == record_type}

    @property
    def all_ids(self) -> set[str]:
        return {h.source_id for h in self.holds if h.record_type}

    def subject_rows(self, column: str, record_type: str | None = None, *, overlap: bool = False) -> Q:
        """Rows whose `column` names a held subject of their own school (of `record_type`, or of any when
        None): one condition per school, so a preview spanning schools holds each school's subjects
        only there. Schools under a whole-school hold are left out (retention holds all their rows).
        `overlap`: the column is an array of subject ids."""
        whole = set(self.held_school_ids)
        condition = Q(pk__in=[])
        per_school: dict[int, set[str]] = {}
        for h in self.holds:
            if h.record_type and (record_type is None or h.record_type == record_type) and h.school_id not in whole:
                per_school.setdefault(h.school_id, set()).add(h.source_id)
        lookup = f"{column}__overlap" if overlap else f"{column}__in"
        for school_id, ids in sorted(per_school.items()):
            condition |= Q(school_id=school_id, **{lookup: sorted(ids)})
        return condition

    def splits_subjects(self) -> bool:
        """Whether any subject hold applies outside the schools held whole."""
        whole = set(self.held_school_ids)
        return any(h.record_type and h.school_id not in whole for h in self.holds)

    def of_school(self, school_id: int) -> Holds:
        return Holds(tuple(h for h in self.holds if h.school_id == school_id))

    def subjects(self, record_type: str) -> dict[int, set[str]]:
        """Held source ids of one record type, per school (for processor targets, which span schools)."""
        found: dict[int, set[str]] = {}
        for h in self.holds:
            if h.record_type == record_type:
                found.setdefault(h.school_id, set()).add(h.source_id)
        return found


@dataclass(frozen=True)
class Context:
    """What a target's `find` is told: the school (None for processor targets), the day, the holds.

    A school target's `find` runs inside a tenant scope and finds what is due at every school of
    `school_ids`: the sweep's one school, or all the schools a preview counts at once (grouped by
    school afterwards), so a preview's queries do not grow with the number of schools."""

    school_id: int | None
    today: dt.date
    holds: Holds
    schools: tuple[int, ...] = ()

    @property
    def school_ids(self) -> tuple[int, ...]:
        return self.schools or ((self.school_id,) if self.school_id is not None else ())

    def cutoff(self, rule: RetentionRule) -> dt.date:
        return self.today - dt.timedelta(days=rule.period_days)

    def cutoff_time(self, rule: RetentionRule) -> dt.datetime:
        return dt.datetime.combine(self.cutoff(rule), dt.time.min, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Found:
    """Rows a rule makes due: one queryset per table, and how many rows legal holds keep back."""

    what: str
    reason: str
    deletable: list[QuerySet[Any]]
    held: int = 0
    held_reason: str = ""
    held_rows: list[QuerySet[Any]] = field(default_factory=list)  # the rows `held` counts, for a preview


ReplayKind = Literal["", "mis_records", "photos", "rows"]


@dataclass(frozen=True)
class Deleted:
    """What one set-based delete removed; `replay` names the replay-log entry that redoes it after a restore."""

    rows: int
    replay: ReplayKind = ""
    replay_target: str = ""
    ids: list[str] = field(default_factory=list)


def _no_replay(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    return False


@dataclass(frozen=True)
class RetentionTarget:
    """One rule's declaration. `find` runs inside the scope `scope` names and returns what is due;
    `delete` removes one of its querysets in one statement; `replay` deletes a replay-log entry's rows
    again after a restore and answers whether the entry was its own."""

    service: str
    trigger: str
    category: str | None
    scope: Scope
    find: Callable[[RetentionRule, Context], list[Found]]
    delete: Callable[[QuerySet[Any], int | None], Deleted]
    replay: Callable[[str, str, list[str], int | None], bool] = _no_replay

    @property
    def key(self) -> RuleKey:
        return (self.service, self.trigger, self.category)

    @property
    def proof_category(self) -> str:
        """The data category a deletion proof names ('' for a rule over all of an activity's categories)."""
        return self.category or ""


_targets: dict[RuleKey, RetentionTarget] = {}


def catalogue_rule_keys() -> set[RuleKey]:
    """Every retention rule the register's catalogue states."""
    return {(a.service, r.trigger, r.category) for a in ACTIVITIES for r in a.retention}


def register_target(target: RetentionTarget) -> None:
    """Declare a rule's target; a key the catalogue does not state, or one already declared, is an error."""
    if target.key not in catalogue_rule_keys():
        raise ValueError(f"no retention rule {target.key!r} in the register's catalogue")
    existing = _targets.get(target.key)
    if existing is not None and existing is not target:  # the same declaration again (a second ready()) is fine
        raise ValueError(f"retention rule {target.key!r} already has a declared target")
    _targets[target.key] = target


def target_for(key: RuleKey) -> RetentionTarget:
    """The declared target of a rule; an unknown key raises rather than being skipped in silence."""
    try:
        return _targets[key]
    except KeyError:
        raise LookupError(f"no app declares a retention target for rule {key!r}") from None


def has_target(key: RuleKey) -> bool:
    return key in _targets


def targets() -> list[RetentionTarget]:
    return [_targets[k] for k in sorted(_targets, key=lambda k: (k[0], k[1], k[2] or ""))]


# Helpers the declaring apps share ------------------------------------------------------------------


def hold_apart(found: Found, holds: Holds, held_rows: Callable[[type[Any], Holds], Q]) -> Found:
    """Take the rows of subjects under a legal hold out of `found`, and count them as held.

    `held_rows` says, for a table, which of its rows are or refer to a held subject of their own
    school (`Holds.subject_rows`). A whole-school hold is applied by retention itself (everything is
    held), so such a school's rows are left alone here."""
    if not holds.splits_subjects():
        return found
    deletable, kept_rows, held = [], [], 0
    for qs in found.deletable:
        kept = qs.filter(held_rows(qs.model, holds))
        held += kept.count()
        kept_rows.append(kept)
        deletable.append(qs.exclude(pk__in=kept.values("pk")))
    return Found(found.what, found.reason, deletable, held, "; ".join(holds.reasons), kept_rows)


def returning(statement: str, qs: QuerySet[Any]) -> list[str]:
    """Run `statement` with the queryset's ids in place of `{ids}`; the first column of what it returns."""
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(statement.format(ids=sql), params)
        return [row[0] for row in cursor.fetchall()]


def delete_rows(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    """One DELETE of the queryset's rows, by id, to be replayed by id (for tables nothing refers to)."""
    table = qs.model._meta.db_table
    ids = returning(f"DELETE FROM {table} WHERE id IN ({{ids}}) RETURNING id::text", qs)  # noqa: S608  # nosec B608
    return Deleted(len(ids), "rows", table, ids)


# Shared rows that name a school ---------------------------------------------------------------------
# A contract termination deletes every tenant table's rows of the school by itself; a table outside
# the tenant tables that still names the school (a parent's link to it) is declared by its app.


@dataclass(frozen=True)
class SchoolRows:
    """A shared table's rows of one school: `purge` deletes them (with what they leave orphaned) and
    returns rows per table; `count` says how many are left, for the purge's verification."""

    app_label: str
    purge: Callable[[int], dict[str, int]]
    count: Callable[[int], dict[str, int]]


_school_rows: dict[str, SchoolRows] = {}


def register_school_rows(rows: SchoolRows) -> None:
    _school_rows[rows.app_label] = rows


def school_rows() -> list[SchoolRows]:
    return [_school_rows[label] for label in sorted(_school_rows)]
