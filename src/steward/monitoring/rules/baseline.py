"""Rules that judge a subject against a baseline: bulk reads, exports, activity at odd hours.

Each tally's baseline is read from the same rule's tallies of the previous N days (an index range of
the unique key), never from the audit log again: the cost of judging is per touched tally.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.rules.base import (
    ACTOR_SQL,
    LONDON_DAY,
    Finding,
    PassContext,
    TallyRule,
    finding_from,
    fixed_bucket,
    rows,
)
from steward.monitoring.weights import weight_sql

READS = "e.action IN ('view', 'search') AND e.school_id IS NOT NULL"

# The subject's own history: the same rule, school and subject in the previous `days`.
_OWN_HISTORY = """
WITH candidate AS MATERIALIZED (
    -- Only a tally over the floor can fire: the baseline is read for those alone.
    SELECT * FROM monitoring_tally WHERE pass_id = %(pass)s AND rule = %(rule)s AND {measure} >= %(floor)s
)
SELECT c.school_id, c.subject_key, c.bucket_start, c.bucket_end, c.events, c.weight, c.first_at, c.last_at,
       c.sample_ids, coalesce(h.total, 0) AS history
  FROM candidate c
  LEFT JOIN LATERAL (
      SELECT sum(p.{measure}) AS total FROM monitoring_tally p
       WHERE p.rule = c.rule AND p.school_id = c.school_id AND p.subject_key = c.subject_key AND p.item = ''
         AND p.bucket_start >= c.bucket_start - %(days)s * interval '1 day' AND p.bucket_start < c.bucket_start
  ) h ON true
 WHERE c.{measure} >= %(factor)s * coalesce(h.total, 0) / %(buckets)s
"""


class BulkReads(TallyRule):
    """Weighted records read per person or API client and school, per hour or per day."""

    subject_kind = "user"
    where = READS
    school_sql = "e.school_id"
    subject_sql = ACTOR_SQL

    def __init__(self, period: str) -> None:
        self.period = period
        self.name = f"bulk_reads_{period}"
        self.title = (
            f"Far more records read in an {period} than usual"
            if period == "hour"
            else ("Far more records read in a day than usual")
        )
        self.description = (
            f"A person or API client read far more of a school's records in one {period} than their own average "
            "over the previous weeks. Special category and safeguarding records count more than others."
        )
        self.weight_sql = weight_sql()

    def settings(self) -> dict[str, Any]:
        from steward.monitoring.config import rule_settings

        return rule_settings("bulk_reads")

    def bucket(self) -> tuple[str, str]:
        return fixed_bucket(3600 if self.period == "hour" else 86400)

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        cursor.execute(
            _OWN_HISTORY.format(measure="weight"),
            {
                "days": days,
                "pass": ctx.pass_id,
                "rule": self.name,
                "floor": int(cfg[f"{self.period}_floor"]),
                "factor": float(cfg["factor"]),
                "buckets": days * (24 if self.period == "hour" else 1),
            },
        )
        found = []
        for row in rows(cursor):
            usual = float(row["history"]) / (days * (24 if self.period == "hour" else 1))
            summary = f"Read records worth {row['weight']} in one {self.period} (usually about {usual:.0f})"
            found.append(finding_from(self, row, summary, weighted=int(row["weight"]), usual=round(usual, 1)))
        return found


class Exports(TallyRule):
    name = "exports"
    title = "More exports or downloads than usual"
    description = (
        "A person downloaded more exports, data files or subject access bundles of a school in a day than "
        "they usually do."
    )
    school_sql = "e.school_id"

    @property
    def where(self) -> str:  # type: ignore[override]
        actions = ", ".join(f"'{a}'" for a in self.settings()["actions"] if str(a).replace("_", "").isalnum())
        return f"e.action IN ({actions}) AND e.school_id IS NOT NULL"

    def bucket(self) -> tuple[str, str]:
        return fixed_bucket(86400)

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        cursor.execute(
            _OWN_HISTORY.format(measure="events"),
            {
                "days": days,
                "pass": ctx.pass_id,
                "rule": self.name,
                "floor": int(cfg["floor"]),
                "factor": float(cfg["factor"]),
                "buckets": days,
            },
        )
        return [finding_from(self, row, f"{row['events']} exports or downloads in one day") for row in rows(cursor)]


class OddHours(TallyRule):
    name = "odd_hours"
    title = "Activity at night or at the weekend"
    description = (
        "A member of staff worked on the school's data at night or at the weekend (UK time) far more than is "
        "usual at that school."
    )
    school_sql = "e.school_id"
    subject_sql = "'user:' || e.actor_user_id"

    @property
    def where(self) -> str:  # type: ignore[override]
        cfg = self.settings()
        local = "e.local_at"  # Europe/London wall-clock time, worked out once in the copy
        night_starts, night_ends = int(cfg["night_starts"]), int(cfg["night_ends"])
        return (
            "e.school_id IS NOT NULL AND e.actor_user_id IS NOT NULL AND ("
            f"extract(isodow FROM {local}) >= 6 OR extract(hour FROM {local}) >= {night_starts} "
            f"OR extract(hour FROM {local}) < {night_ends})"
        )

    def bucket(self) -> tuple[str, str]:
        return LONDON_DAY

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        # The school's norm: its staff's odd-hours events per person-day with any, in the previous days.
        cursor.execute(
            """
            WITH candidate AS MATERIALIZED (
                SELECT * FROM monitoring_tally WHERE pass_id = %(pass)s AND rule = %(rule)s AND events >= %(floor)s
            ),
            -- Each candidate school's days, summed once (not once per candidate): events and person-days.
            school_day AS MATERIALIZED (
                SELECT p.school_id, p.bucket_start, sum(p.events) AS events, count(*) AS people
                  FROM monitoring_tally p
                 WHERE p.rule = %(rule)s AND p.school_id IN (SELECT school_id FROM candidate)
                   AND p.bucket_start >= (SELECT min(bucket_start) FROM candidate) - %(days)s * interval '1 day'
                 GROUP BY p.school_id, p.bucket_start
            )
            SELECT c.school_id, c.subject_key, c.bucket_start, c.bucket_end, c.events, c.weight, c.first_at,
                   c.last_at, c.sample_ids, coalesce(h.per_day, 0) AS usual
              FROM candidate c
              LEFT JOIN LATERAL (
                  SELECT sum(d.events)::float / sum(d.people) AS per_day FROM school_day d
                   WHERE d.school_id = c.school_id
                     AND d.bucket_start >= c.bucket_start - %(days)s * interval '1 day'
                     AND d.bucket_start < c.bucket_start
              ) h ON true
             WHERE c.events >= %(factor)s * coalesce(h.per_day, 0)
            """,
            {
                "days": days,
                "pass": ctx.pass_id,
                "rule": self.name,
                "floor": int(cfg["floor"]),
                "factor": float(cfg["factor"]),
            },
        )
        return [
            finding_from(
                self,
                row,
                f"{row['events']} actions at night or at the weekend in one day (usual at this school: "
                f"{float(row['usual']):.0f})",
                usual=round(float(row["usual"]), 1),
            )
            for row in rows(cursor)
        ]
