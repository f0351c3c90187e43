"""What a rule is, what it finds, and the tally every counting rule shares.

A detection pass copies the new audit events (id above the cursor) into the temporary table
`monitoring_new` once; each counting rule then adds them to its tallies with one INSERT ... SELECT
... GROUP BY ... ON CONFLICT (set-based, in PostgreSQL) and judges only the tallies this pass touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from steward.monitoring.config import evidence_cap, rule_settings


@dataclass(frozen=True)
class PassContext:
    """The pass's bounds: it reads events with `lo < id <= hi`."""

    pass_id: int
    lo: int
    hi: int
    # What one rule reads for another within the pass (the sign-ins the two country rules share).
    shared: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class Finding:
    """A rule's verdict about one subject in one window, before it becomes (or updates) an alert.

    `school_id` None means the rule found it without a school: sign-in rules name the person's
    schools from their memberships when the alert is written; processor-wide rules keep none."""

    rule: str
    subject_kind: str
    subject_key: str
    window_start: dt.datetime
    window_end: dt.datetime
    event_ids: list[int]
    event_count: int
    first_at: dt.datetime
    last_at: dt.datetime
    summary: str
    school_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)


class Rule(Protocol):
    name: str
    title: str
    description: str
    processor_wide: bool  # alerts go to the processor's administrators, not a school's DPO

    def run(self, cursor: Any, ctx: PassContext) -> list[Finding]: ...


# The account a sign-in failure was against: the user when the email matched one, else the email typed.
ACCOUNT_SQL = "coalesce('user:' || e.actor_user_id, 'email:' || e.email)"
# The person or API client that acted.
ACTOR_SQL = "coalesce('user:' || e.actor_user_id, CASE WHEN e.actor_client <> '' THEN 'client:' || e.actor_client END)"


def fixed_bucket(seconds: int) -> tuple[str, str]:
    """Start and end of the tumbling window of `seconds` that holds the event (SQL over `e` and `b`)."""
    start = f"to_timestamp(floor(extract(epoch FROM e.occurred_at) / {seconds}) * {seconds})"
    return start, f"b + interval '{seconds} seconds'"


# A day as people in England count it (Europe/London, a 23- or 25-hour day at the clock changes).
LONDON_DAY = (
    "(date_trunc('day', e.local_at) AT TIME ZONE 'Europe/London')",
    "((b AT TIME ZONE 'Europe/London') + interval '1 day') AT TIME ZONE 'Europe/London'",
)


# Add the new events to the rule's tallies. The braces are the rule's own constant SQL fragments
# (subject, item, bucket, weight, filter), never anything typed by a user.
_TALLY = """
INSERT INTO monitoring_tally AS t (rule, school_id, subject_kind, subject_key, item, bucket_start,
    bucket_end, events, weight, first_at, last_at, sample_ids, pass_id)
SELECT %(rule)s, s, %(kind)s, k, i, b, {end}, count(*), sum(w), min(at), max(at),
       (array_agg(id ORDER BY id))[1:%(cap)s], %(pass)s
  FROM (SELECT e.id, e.occurred_at AS at, {school} AS s, {subject} AS k,
               {item} AS i, {start} AS b, {weight} AS w
          FROM monitoring_new e WHERE {where}) x
 WHERE k IS NOT NULL AND i IS NOT NULL
 GROUP BY s, k, i, b
ON CONFLICT (rule, school_id, subject_key, item, bucket_start) DO UPDATE SET
    events = t.events + EXCLUDED.events,
    weight = t.weight + EXCLUDED.weight,
    first_at = least(t.first_at, EXCLUDED.first_at),
    last_at = greatest(t.last_at, EXCLUDED.last_at),
    sample_ids = (t.sample_ids || EXCLUDED.sample_ids)[1:%(cap)s],
    pass_id = EXCLUDED.pass_id
"""


class TallyRule:
    """A rule that counts events per (school, subject, item, bucket) and judges the sums."""

    name = ""
    title = ""
    description = ""
    processor_wide = False
    subject_kind = "user"
    where = "false"
    school_sql = "0"
    subject_sql = ACTOR_SQL
    item_sql = "''"
    weight_sql = "1"

    def bucket(self) -> tuple[str, str]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        return rule_settings(self.name)

    def tally(self, cursor: Any, ctx: PassContext) -> None:
        start, end = self.bucket()
        fragments = {
            "{end}": end,
            "{school}": self.school_sql,
            "{subject}": self.subject_sql,
            "{item}": self.item_sql,
            "{start}": start,
            "{weight}": self.weight_sql,
            "{where}": self.where,
        }
        sql = _TALLY
        for name, fragment in fragments.items():
            sql = sql.replace(name, fragment)
        cursor.execute(sql, {"rule": self.name, "kind": self.subject_kind, "cap": evidence_cap(), "pass": ctx.pass_id})

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        raise NotImplementedError

    def run(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        self.tally(cursor, ctx)
        return self.judge(cursor, ctx)

    def over_threshold(self, cursor: Any, ctx: PassContext, threshold: int) -> list[dict[str, Any]]:
        """This pass's tallies of the rule with at least `threshold` events."""
        cursor.execute(
            "SELECT school_id, subject_key, bucket_start, bucket_end, events, weight, first_at, last_at, sample_ids "
            "FROM monitoring_tally WHERE pass_id = %s AND rule = %s AND events >= %s",
            [ctx.pass_id, self.name, threshold],
        )
        return rows(cursor)


def rows(cursor: Any) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def finding_from(rule: TallyRule, row: dict[str, Any], summary: str, **counts: Any) -> Finding:
    return Finding(
        rule=rule.name,
        subject_kind=row["subject_key"].split(":", 1)[0] if ":" in row["subject_key"] else rule.subject_kind,
        subject_key=row["subject_key"],
        window_start=row["bucket_start"],
        window_end=row["bucket_end"],
        event_ids=list(row["sample_ids"]),
        event_count=int(row["events"]),
        first_at=row["first_at"],
        last_at=row["last_at"],
        summary=summary,
        school_id=int(row["school_id"]) or None,
        counts={"events": int(row["events"]), **counts},
    )
