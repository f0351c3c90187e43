"""Rules that judge a subject against a baseline: bulk reads, exports, activity at odd hours.

They count the pass's hours (`monitoring_hours`: each school's events summed per person or API
client and hour, with the hour's local time), so each groups a few rows per person-hour, never the
events again. Days are London days. A baseline is read from the daily tallies of the previous N
days (an index range of the unique key), never from the audit log: the cost of judging is per
candidate. The hourly bulk-read rule keeps no hours of history: its usual hour is the person's
daily history spread over the day's 24 hours.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.rules.base import (
    HOUR,
    LONDON_DAY,
    Finding,
    PassContext,
    TallyRule,
    findings_from,
    rows,
)

READS = "e.action IN ('view', 'search')"

# The subject's own history: the `history` rule's days for the same school and subject in the
# `days` before the candidate's bucket (a day that ends by the time the bucket starts).
_OWN_HISTORY = """
WITH candidate AS MATERIALIZED (
    -- Only a group over the floor can fire: the baseline is read for those alone.
    SELECT * FROM monitoring_groups WHERE rule = %(rule)s AND {measure} >= %(floor)s
)
SELECT c.school_id, c.subject_key, c.bucket_start, c.bucket_end, c.events, c.weight, c.first_at, c.last_at,
       c.first_id, c.last_id, coalesce(h.total, 0) AS history
  FROM candidate c
  LEFT JOIN LATERAL (
      SELECT sum(p.{measure}) AS total FROM monitoring_tally p
       WHERE p.rule = %(history)s AND p.school_id = c.school_id AND p.subject_key = c.subject_key AND p.item = ''
         AND p.bucket_start >= c.bucket_start - %(days)s * interval '1 day' AND p.bucket_end <= c.bucket_start
  ) h ON true
 WHERE c.{measure} >= %(factor)s * coalesce(h.total, 0) / %(buckets)s
"""


def _actor_match(kind: str, condition: str) -> str:
    """A person's events by the index of their events; an API client's by its name."""
    actor = "e.actor_user_id = f.user_id" if kind == "user" else "e.actor_client = f.value"
    return f"{actor} AND e.school_id = f.school AND {condition}"


class BulkReads(TallyRule):
    """Weighted records read per person or API client and school, per hour or per London day."""

    subject_kind = "user"
    source = "hours"
    school_sql = "e.school_id"
    subject_sql = "e.k"
    events_sql = "e.reads"
    weight_sql = "e.weight"

    def __init__(self, period: str) -> None:
        self.period = period
        self.name = f"bulk_reads_{period}"
        self.keeps_history = period == "day"
        self.title = (
            f"Far more records read in an {period} than usual"
            if period == "hour"
            else ("Far more records read in a day than usual")
        )
        self.description = (
            f"A person or API client read far more of a school's records in one {period} than their own average "
            "over the previous weeks. Special category and safeguarding records count more than others."
        )

    def settings(self) -> dict[str, Any]:
        from steward.monitoring.config import rule_settings

        return rule_settings("bulk_reads")

    @property
    def where(self) -> str:  # type: ignore[override]
        if self.period == "day":
            return "e.weight > 0"
        # An hour under the hourly floor cannot fire: only those over it, and those a tally may hold
        # or must keep, are grouped (a row of the hours is already one person's hour).
        return f"e.weight > 0 AND (e.weight >= {int(self.settings()['hour_floor'])} OR e.b >= %(open_since)s)"

    def bucket(self) -> tuple[str, str, str]:
        return LONDON_DAY if self.period == "day" else HOUR

    def evidence_match(self, kind: str) -> str:
        return _actor_match(kind, READS)

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        buckets = days * (24 if self.period == "hour" else 1)
        cursor.execute(
            _OWN_HISTORY.format(measure="weight"),
            {
                "days": days,
                "rule": self.name,
                "history": "bulk_reads_day",
                "floor": int(cfg[f"{self.period}_floor"]),
                "factor": float(cfg["factor"]),
                "buckets": buckets,
            },
        )

        def describe(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            usual = float(row["history"]) / buckets
            summary = f"Read records worth {row['weight']} in one {self.period} (usually about {usual:.0f})"
            return summary, {"weighted": int(row["weight"]), "usual": round(usual, 1)}

        return findings_from(self, cursor, rows(cursor), describe)


class Exports(TallyRule):
    name = "exports"
    title = "More exports or downloads than usual"
    description = (
        "A person downloaded more exports, data files or subject access bundles of a school in a day than "
        "they usually do."
    )
    source = "hours"
    where = "e.exports > 0"
    school_sql = "e.school_id"
    subject_sql = "e.k"
    events_sql = "e.exports"
    keeps_history = True

    def bucket(self) -> tuple[str, str, str]:
        return LONDON_DAY

    def evidence_match(self, kind: str) -> str:
        return _actor_match(kind, f"e.action = ANY({self.actions_sql()})")

    def actions_sql(self) -> str:
        """The watched actions as a SQL array of constants (names from settings, checked as words)."""
        actions = ", ".join(f"'{a}'" for a in self.settings()["actions"] if str(a).replace("_", "").isalnum())
        return f"ARRAY[{actions}]::text[]" if actions else "ARRAY[]::text[]"

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        cursor.execute(
            _OWN_HISTORY.format(measure="events"),
            {
                "days": days,
                "rule": self.name,
                "history": self.name,
                "floor": int(cfg["floor"]),
                "factor": float(cfg["factor"]),
                "buckets": days,
            },
        )
        return findings_from(
            self, cursor, rows(cursor), lambda row: (f"{row['events']} exports or downloads in one day", {})
        )


class OddHours(TallyRule):
    name = "odd_hours"
    title = "Activity at night or at the weekend"
    description = (
        "A member of staff worked on the school's data at night or at the weekend (UK time) far more than is "
        "usual at that school."
    )
    source = "hours"
    school_sql = "e.school_id"
    subject_sql = "e.k"
    keeps_history = True

    def odd(self, local: str) -> str:
        """Whether a London wall-clock time is at night or at the weekend (SQL)."""
        cfg = self.settings()
        night_starts, night_ends = int(cfg["night_starts"]), int(cfg["night_ends"])
        return (
            f"(extract(isodow FROM {local}) >= 6 OR extract(hour FROM {local}) >= {night_starts} "
            f"OR extract(hour FROM {local}) < {night_ends})"
        )

    @property
    def where(self) -> str:  # type: ignore[override]
        return f"e.actor_user_id IS NOT NULL AND {self.odd('e.local_at')}"

    def bucket(self) -> tuple[str, str, str]:
        return LONDON_DAY

    def evidence_match(self, kind: str) -> str:
        return _actor_match(kind, self.odd("(e.occurred_at AT TIME ZONE 'Europe/London')"))

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        days = int(cfg["baseline_days"])
        # The school's norm: its staff's odd-hours events per person-day with any, in the previous days.
        cursor.execute(
            """
            WITH candidate AS MATERIALIZED (
                SELECT * FROM monitoring_groups WHERE rule = %(rule)s AND events >= %(floor)s
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
                   c.last_at, c.first_id, c.last_id, coalesce(h.per_day, 0) AS usual
              FROM candidate c
              LEFT JOIN LATERAL (
                  SELECT sum(d.events)::float / sum(d.people) AS per_day FROM school_day d
                   WHERE d.school_id = c.school_id
                     AND d.bucket_start >= c.bucket_start - %(days)s * interval '1 day'
                     AND d.bucket_start < c.bucket_start
              ) h ON true
             WHERE c.events >= %(factor)s * coalesce(h.per_day, 0)
            """,
            {"days": days, "rule": self.name, "floor": int(cfg["floor"]), "factor": float(cfg["factor"])},
        )

        def describe(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            usual = float(row["usual"])
            return (
                f"{row['events']} actions at night or at the weekend in one day (usual at this school: {usual:.0f})",
                {"usual": round(usual, 1)},
            )

        return findings_from(self, cursor, rows(cursor), describe)
