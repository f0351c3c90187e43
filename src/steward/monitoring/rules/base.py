"""What a rule is, what it finds, and the grouping every counting rule shares.

A detection pass reads the audit log's new events (id above the cursor) once, into two temporary
tables (see `monitoring.detection`): `monitoring_new`, the few sign-in and refused-API events, row by
row; and `monitoring_hours`, every event of a school summed per (school, person or API client, hour).
Each counting rule then:

1. groups its events into `monitoring_groups` (one INSERT ... SELECT ... GROUP BY, in PostgreSQL);
2. has what `monitoring_tally` already holds for the same buckets added (one UPDATE for all rules);
3. keeps in `monitoring_tally` only what a later pass needs: a baseline rule's history (its buckets,
   for the baseline window) and any other rule's buckets still open (ending after the pass's
   horizon, so more events may come into them);
4. judges the pass's groups, reading history from the tallies.

So the tallies stay small (a 28-day backlog keeps its days, not its hours or its 15-minute windows),
and the cost of a pass follows its new events. Evidence (event ids) is looked up for findings only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from steward.monitoring.config import evidence_cap, rule_settings


@dataclass(frozen=True)
class PassContext:
    """The pass's bounds: it reads events with `lo < id <= hi`. A bucket ending after `horizon` may
    still receive events, so its tally is kept for the next pass."""

    pass_id: int
    lo: int
    hi: int
    horizon: dt.datetime
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


def fixed_bucket(seconds: int, at: str = "e.occurred_at") -> tuple[str, str, str]:
    """The tumbling window of `seconds` that holds the event: its key (SQL over `e`), its start (over
    the grouped key `b`) and its end (over the start `bs`)."""
    key = f"date_bin('{int(seconds)} seconds', {at}, timestamptz '2000-01-01 00:00+00')"
    return key, "b", f"bs + interval '{int(seconds)} seconds'"


# A day as people in England count it (Europe/London, a 23- or 25-hour day at the clock changes):
# grouped by the hour's local day (`e.local_day`, worked out once per hour), and turned back into
# an instant once per group, not once per row.
LONDON_DAY = (
    "e.local_day",
    "b AT TIME ZONE 'Europe/London'",
    "((bs AT TIME ZONE 'Europe/London') + interval '1 day') AT TIME ZONE 'Europe/London'",
)
# The hour of an hour's row.
HOUR = ("e.b", "b", "bs + interval '1 hour'")

# What one row of each source counts for: an event of `monitoring_new`, or an hour of `monitoring_hours`.
SOURCES: dict[str, dict[str, str]] = {
    "new": {
        "table": "monitoring_new",
        "events": "1",
        "first_at": "e.occurred_at",
        "last_at": "e.occurred_at",
        "first_id": "e.id",
        "last_id": "e.id",
    },
    "hours": {
        "table": "monitoring_hours",
        "events": "e.events",
        "first_at": "e.first_at",
        "last_at": "e.last_at",
        "first_id": "e.first_id",
        "last_id": "e.last_id",
    },
}

# A rule's groups of this pass. The braces are the rule's own constant SQL fragments (source,
# subject, item, bucket, measures, filter), never anything typed by a user.
_GROUP = """
INSERT INTO monitoring_groups (rule, school_id, subject_key, item, bucket_start, bucket_end, events, weight,
    first_at, last_at, first_id, last_id)
SELECT %(rule)s, s, k, i, bs, {end}, n, w, fa, la, fi, li FROM (
    SELECT s, k, i, {start} AS bs, sum(n) AS n, sum(w) AS w, min(fa) AS fa, max(la) AS la, min(fi) AS fi,
           max(li) AS li
      FROM (SELECT {school} AS s, {subject} AS k, {item} AS i, {key} AS b, {events} AS n, {weight} AS w,
                   {first_at} AS fa, {last_at} AS la, {first_id} AS fi, {last_id} AS li
              FROM {table} e WHERE {where}) x
     WHERE k IS NOT NULL AND i IS NOT NULL
     GROUP BY s, k, i, b
) y
"""


class TallyRule:
    """A rule that counts events per (school, subject, item, bucket) and judges the sums."""

    name = ""
    title = ""
    description = ""
    processor_wide = False
    subject_kind = "user"
    source = "new"
    where = "false"
    school_sql = "0"
    subject_sql = ACTOR_SQL
    item_sql = "''"
    events_sql = ""  # what a row counts as events; the source's own count by default
    weight_sql = "0"
    # A baseline rule keeps its buckets as history (`config.TALLY_KEEP_DAYS`); others only while open.
    keeps_history = False

    def bucket(self) -> tuple[str, str, str]:
        """The bucket's key (SQL over a source row `e`), start (over the grouped key `b`) and end
        (over the start `bs`)."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        return rule_settings(self.name)

    def group(self, cursor: Any, ctx: PassContext) -> None:
        key, start, end = self.bucket()
        source = SOURCES[self.source]
        fragments = {
            "{table}": source["table"],
            "{end}": end,
            "{start}": start,
            "{key}": key,
            "{school}": self.school_sql,
            "{subject}": self.subject_sql,
            "{item}": self.item_sql,
            "{events}": self.events_sql or source["events"],
            "{weight}": self.weight_sql,
            "{first_at}": source["first_at"],
            "{last_at}": source["last_at"],
            "{first_id}": source["first_id"],
            "{last_id}": source["last_id"],
            "{where}": self.where,
        }
        sql = _GROUP
        for name, fragment in fragments.items():
            sql = sql.replace(name, fragment)
        cursor.execute(sql, {"rule": self.name, "open_since": self.open_since(cursor, ctx)})

    def open_since(self, cursor: Any, ctx: PassContext) -> dt.datetime:
        """The earliest bucket start this rule may already have a tally of (its oldest kept bucket,
        or a day before the horizon): a rule that groups only what can fire (`where` may say
        `%(open_since)s`) still groups every bucket from there on, to add to or keep."""
        cursor.execute("SELECT min(bucket_start) FROM monitoring_tally WHERE rule = %s", [self.name])
        oldest = cursor.fetchone()[0]
        floor = ctx.horizon - dt.timedelta(days=1)
        return min(oldest, floor) if oldest is not None else floor

    def evidence_match(self, kind: str) -> str:
        """How a finding's events are found again in the audit log, for a subject of `kind`: SQL over
        `e` (an audit event) and `f` (the finding: `user_id` for a user, `value` after the kind,
        `school`), between the group's first and last id and time."""
        raise NotImplementedError

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        raise NotImplementedError

    def run(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        """Judge this pass's groups (grouped, merged and kept by the pass beforehand)."""
        return self.judge(cursor, ctx)

    def over_threshold(self, cursor: Any, ctx: PassContext, threshold: int) -> list[dict[str, Any]]:
        """This pass's groups of the rule with at least `threshold` events (tallied counts included)."""
        cursor.execute(
            "SELECT school_id, subject_key, bucket_start, bucket_end, events, weight, first_at, last_at, "
            "first_id, last_id FROM monitoring_groups WHERE rule = %s AND events >= %s",
            [self.name, threshold],
        )
        return rows(cursor)

    def evidence(self, cursor: Any, found: list[dict[str, Any]]) -> dict[int, list[int]]:
        """The first event ids of each finding's group (by its index in `found`), looked up in the
        audit log: one statement per kind of subject for all of a rule's findings (a person's by the
        index of their events, the others between the group's first and last id)."""
        by_kind: dict[str, list[int]] = {}
        for n, row in enumerate(found):
            by_kind.setdefault(str(row["subject_key"]).partition(":")[0], []).append(n)
        evidence: dict[int, list[int]] = {}
        for kind, numbers in by_kind.items():
            picked = [found[n] for n in numbers]
            values = [str(r["subject_key"]).partition(":")[2] for r in picked]
            cursor.execute(
                _EVIDENCE.replace("{match}", self.evidence_match(kind)),
                [
                    numbers,
                    [r["first_id"] for r in picked],
                    [r["last_id"] for r in picked],
                    [int(v) if kind == "user" and v.isdigit() else None for v in values],
                    values,
                    [r["school_id"] for r in picked],
                    [r["first_at"] for r in picked],
                    [r["last_at"] for r in picked],
                    evidence_cap(),
                ],
            )
            evidence.update({int(n): list(ids or []) for n, ids in cursor.fetchall()})
        return evidence


# The braces are a rule's constant condition (`evidence_match`), never anything typed by a user.
_EVIDENCE = """
SELECT f.n, x.ids
  FROM unnest(%s::int[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[],
              %s::timestamptz[]) AS f(n, first_id, last_id, user_id, value, school, first_at, last_at)
 CROSS JOIN LATERAL (
    SELECT array_agg(id ORDER BY id) FROM (
        SELECT e.id FROM audit_auditevent e
         WHERE e.id BETWEEN f.first_id AND f.last_id AND e.occurred_at BETWEEN f.first_at AND f.last_at
           AND ({match})
         ORDER BY e.id LIMIT %s) s
 ) x(ids)
"""


def rows(cursor: Any) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def findings_from(rule: TallyRule, cursor: Any, found: list[dict[str, Any]], describe: Any) -> list[Finding]:
    """Findings for the groups a rule judged over its thresholds, with their evidence.
    `describe(row)` gives the summary and any extra counts."""
    evidence = rule.evidence(cursor, found)
    result = []
    for n, row in enumerate(found):
        summary, counts = describe(row)
        result.append(finding_from(rule, row, summary, evidence.get(n, []), **counts))
    return result


def finding_from(rule: TallyRule, row: dict[str, Any], summary: str, event_ids: list[int], **counts: Any) -> Finding:
    return Finding(
        rule=rule.name,
        subject_kind=row["subject_key"].split(":", 1)[0] if ":" in row["subject_key"] else rule.subject_kind,
        subject_key=row["subject_key"],
        window_start=row["bucket_start"],
        window_end=row["bucket_end"],
        event_ids=event_ids,
        event_count=int(row["events"]),
        first_at=row["first_at"],
        last_at=row["last_at"],
        summary=summary,
        school_id=int(row["school_id"]) or None,
        counts={"events": int(row["events"]), **counts},
    )
