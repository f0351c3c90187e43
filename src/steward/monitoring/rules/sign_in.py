"""Brute force and password spraying, from the sign-in failures the back office audits.

The lockouts stay django-axes' and the rate limiter's: these rules find the pattern and tell someone.
Windows are tumbling (15-minute, hourly buckets), so a burst across a boundary counts in two halves;
the thresholds are set with that in mind.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.config import evidence_cap
from steward.monitoring.rules.base import ACCOUNT_SQL, Finding, PassContext, TallyRule, finding_from, fixed_bucket, rows

FAILURES = "e.action IN ('sign_in_failed', 'sign_in_locked_out')"
# The address's network: /24 for IPv4, /64 for IPv6, so one address is its own network's member.
NETWORK_SQL = (
    "CASE WHEN e.ip_address IS NOT NULL THEN 'network:' || "
    "network(set_masklen(e.ip_address, CASE WHEN family(e.ip_address) = 4 THEN 24 ELSE 64 END))::text END"
)


class BruteForce(TallyRule):
    name = "brute_force"
    title = "Many failed sign-ins to one account"
    description = "Someone failed to sign in to one account many times in a short window: a password being guessed."
    subject_kind = "account"
    where = FAILURES
    subject_sql = ACCOUNT_SQL

    def bucket(self) -> tuple[str, str]:
        return fixed_bucket(int(self.settings()["window_minutes"]) * 60)

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        minutes = cfg["window_minutes"]
        return [
            _finding(self, row, f"{row['events']} failed sign-ins to one account within {minutes} minutes")
            for row in self.over_threshold(cursor, ctx, int(cfg["failures"]))
        ]


class PasswordSpraying(TallyRule):
    name = "password_spraying"
    title = "Failed sign-ins to many accounts from one network"
    description = (
        "Sign-ins failed for many different accounts from one address or network in a window: one password "
        "tried against many accounts, across schools."
    )
    processor_wide = True
    subject_kind = "network"
    where = FAILURES
    subject_sql = NETWORK_SQL
    item_sql = ACCOUNT_SQL

    def bucket(self) -> tuple[str, str]:
        return fixed_bucket(int(self.settings()["window_minutes"]) * 60)

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        cursor.execute(
            """
            WITH touched AS (
                SELECT DISTINCT subject_key, bucket_start FROM monitoring_tally
                 WHERE pass_id = %(pass)s AND rule = %(rule)s
            )
            SELECT 0 AS school_id, t.subject_key, t.bucket_start, max(t.bucket_end) AS bucket_end,
                   count(*) AS accounts, sum(t.events) AS events, sum(t.weight) AS weight,
                   min(t.first_at) AS first_at, max(t.last_at) AS last_at,
                   (array_agg(t.sample_ids[1] ORDER BY t.sample_ids[1]))[1:%(cap)s] AS sample_ids
              FROM monitoring_tally t JOIN touched USING (subject_key, bucket_start)
             WHERE t.rule = %(rule)s
             GROUP BY t.subject_key, t.bucket_start
            HAVING count(*) >= %(accounts)s
            """,
            {"pass": ctx.pass_id, "rule": self.name, "accounts": int(cfg["accounts"]), "cap": evidence_cap()},
        )
        minutes = cfg["window_minutes"]
        return [
            _finding(
                self,
                row,
                f"Failed sign-ins to {row['accounts']} accounts from one network within {minutes} minutes",
                accounts=int(row["accounts"]),
            )
            for row in rows(cursor)
        ]


def _finding(rule: TallyRule, row: dict[str, Any], summary: str, **counts: Any) -> Finding:
    return finding_from(rule, row, summary, **counts)
