"""One detection pass: read the audit events after the cursor, run every rule, write alerts, move
the cursor, all in one transaction.

Events are read by id, never by time: `audit_record` numbers an event and links it into the chain
under a transaction-long advisory lock, so events commit in id order and no event can appear later
with an id below the cursor. The pass takes a lock of its own, so two passes never count an event twice.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from steward.monitoring.alerts import record_findings
from steward.monitoring.models import DetectionCursor
from steward.monitoring.rules import RULES, Finding
from steward.monitoring.rules.base import PassContext
from steward.tenancy.scope import estate_scope, processor_scope

_PASS_LOCK = 0x5354_4D4F  # "STMO"
# Tallies older than any baseline are dropped as the pass goes (the longest baseline is 28 days).
TALLY_KEEP_DAYS = 35


@dataclass(frozen=True)
class PassResult:
    lo: int
    hi: int
    events: int
    findings: int
    alerts_created: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for the benchmark


def detection_pass(*, max_events: int | None = None, now: dt.datetime | None = None) -> PassResult:
    """Process the events after the cursor (at most `max_events` of them). Runs in the estate scope
    (alerts are written per school) and the processor scope (the audit log across schools and the
    events of no school, such as failed sign-ins)."""
    started = time.perf_counter()
    now = now or timezone.now()
    with estate_scope(), processor_scope(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PASS_LOCK])
        state, _ = DetectionCursor.objects.select_for_update().get_or_create(pk=1)
        lo = state.last_event_id
        cursor.execute("SELECT max(id) FROM audit_auditevent")
        head = cursor.fetchone()[0] or 0  # type: ignore[index]
        hi = head if max_events is None else min(head, lo + max_events)
        if hi <= lo:
            return PassResult(lo, lo, 0, 0, 0, time.perf_counter() - started)
        ctx = PassContext(pass_id=state.passes + 1, lo=lo, hi=hi)
        timings: dict[str, float] = {}
        mark = time.perf_counter()
        events = _copy_new_events(cursor, ctx)
        timings["copy"], mark = time.perf_counter() - mark, time.perf_counter()
        findings: list[Finding] = []
        for rule in RULES:
            findings += rule.run(cursor, ctx)
            timings[rule.name], mark = time.perf_counter() - mark, time.perf_counter()
        created = record_findings(findings)
        timings["alerts"] = time.perf_counter() - mark
        cursor.execute("DELETE FROM monitoring_tally WHERE bucket_end < %s", [now - dt.timedelta(days=TALLY_KEEP_DAYS)])
        cursor.execute("DROP TABLE monitoring_new")
        state.last_event_id = hi
        state.passes = ctx.pass_id
        state.updated_at = now
        state.save()
    return PassResult(lo, hi, events, len(findings), len(created), time.perf_counter() - started, timings)


def _copy_new_events(cursor: object, ctx: PassContext) -> int:
    """The new events' columns the rules read, once, into a narrow temporary table (the audit rows
    carry hashes, user agents and JSON the rules do not need), with the local time worked out once."""
    cursor.execute(  # type: ignore[attr-defined]
        """
        CREATE TEMPORARY TABLE monitoring_new ON COMMIT DROP AS
        SELECT id, occurred_at, actor_user_id, actor_client, school_id, action, object_type,
               cardinality(object_ids) AS n, ip_address, lower(detail ->> 'email') AS email,
               occurred_at AT TIME ZONE 'Europe/London' AS local_at
          FROM audit_auditevent WHERE id > %s AND id <= %s
        """,
        [ctx.lo, ctx.hi],
    )
    count = int(cursor.rowcount)  # type: ignore[attr-defined]
    cursor.execute("ANALYZE monitoring_new")  # type: ignore[attr-defined]
    return count
