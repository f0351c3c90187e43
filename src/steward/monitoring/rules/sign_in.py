"""Brute force and password spraying, from the sign-in failures the back office audits.

The lockouts stay django-axes' and the rate limiter's: these rules find the pattern and tell someone.
Windows are tumbling (15-minute, hourly buckets), so a burst across a boundary counts in two halves;
the thresholds are set with that in mind.
"""

from __future__ import annotations

from typing import Any

from steward.monitoring.config import evidence_cap
from steward.monitoring.rules.base import (
    ACCOUNT_SQL,
    Finding,
    PassContext,
    TallyRule,
    findings_from,
    fixed_bucket,
    rows,
)

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

    def bucket(self) -> tuple[str, str, str]:
        return fixed_bucket(int(self.settings()["window_minutes"]) * 60)

    def evidence_match(self, kind: str) -> str:
        if kind == "user":
            return f"e.actor_user_id = f.user_id AND {FAILURES}"
        return f"e.actor_user_id IS NULL AND lower(e.detail ->> 'email') = f.value AND {FAILURES}"

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        minutes = cfg["window_minutes"]
        return findings_from(
            self,
            cursor,
            self.over_threshold(cursor, ctx, int(cfg["failures"])),
            lambda row: (f"{row['events']} failed sign-ins to one account within {minutes} minutes", {}),
        )


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

    def bucket(self) -> tuple[str, str, str]:
        return fixed_bucket(int(self.settings()["window_minutes"]) * 60)

    def evidence_match(self, kind: str) -> str:
        return f"e.ip_address <<= f.value::inet AND {FAILURES}"

    def judge(self, cursor: Any, ctx: PassContext) -> list[Finding]:
        cfg = self.settings()
        # The accounts of each (network, window) this pass touched: its groups, and the accounts an
        # earlier pass tallied in the same window that this pass did not see again.
        cursor.execute(
            """
            WITH touched AS (
                SELECT DISTINCT subject_key, bucket_start FROM monitoring_groups WHERE rule = %(rule)s
            ),
            accounts AS (
                SELECT subject_key, item, bucket_start, bucket_end, events, first_at, last_at, first_id, last_id
                  FROM monitoring_groups WHERE rule = %(rule)s
                UNION ALL
                SELECT t.subject_key, t.item, t.bucket_start, t.bucket_end, t.events, t.first_at, t.last_at,
                       t.first_id, t.last_id
                  FROM monitoring_tally t JOIN touched USING (subject_key, bucket_start)
                 WHERE t.rule = %(rule)s AND NOT EXISTS (
                     SELECT 1 FROM monitoring_groups g WHERE g.rule = t.rule AND g.subject_key = t.subject_key
                        AND g.item = t.item AND g.bucket_start = t.bucket_start)
            )
            SELECT 0 AS school_id, subject_key, bucket_start, max(bucket_end) AS bucket_end,
                   count(*) AS accounts, sum(events) AS events, 0 AS weight,
                   min(first_at) AS first_at, max(last_at) AS last_at, min(first_id) AS first_id,
                   max(last_id) AS last_id
              FROM accounts
             GROUP BY subject_key, bucket_start
            HAVING count(*) >= %(accounts)s
            """,
            {"rule": self.name, "accounts": int(cfg["accounts"]), "cap": evidence_cap()},
        )
        minutes = cfg["window_minutes"]
        return findings_from(
            self,
            cursor,
            rows(cursor),
            lambda row: (
                f"Failed sign-ins to {row['accounts']} accounts from one network within {minutes} minutes",
                {"accounts": int(row["accounts"])},
            ),
        )
