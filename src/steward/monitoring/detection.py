"""One detection pass: read the audit events after the cursor, run every rule, write alerts, move
the cursor, all in one transaction.

Events are read by id, never by time, up to `audit.services.committed_through()`: each school's
chain takes its own transaction-long lock, so events of different schools commit out of id order,
and the pass reads only up to the id below which every writer has finished, so no event can appear
later with an id below the cursor. The pass takes a lock of its own, so two passes never count an event twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from steward.audit.services import committed_through
from steward.monitoring.alerts import record_findings
from steward.monitoring.models import DetectionCursor
from steward.monitoring.rules import RULES, Finding
from steward.monitoring.rules.base import ACTOR_SQL, PassContext, TallyRule
from steward.monitoring.rules.baseline import Exports
from steward.monitoring.weights import weight_sql
from steward.tenancy.scope import estate_scope, processor_scope

_PASS_LOCK = 0x5354_4D4F  # "STMO"
# Tallies older than any baseline are dropped as the pass goes (the longest baseline is 28 days).
TALLY_KEEP_DAYS = 35
# A bucket ending within this of the pass's time may still receive events (an event is numbered when
# its transaction writes it, which may be a little after it happened): its tally is kept.
OPEN_GRACE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class PassResult:
    lo: int
    hi: int
    events: int
    findings: int
    alerts_created: int
    seconds: float  # until the pass committed
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for the benchmark
    after_commit_seconds: float = 0.0  # the new alerts' emails, sent once the pass has committed


def detection_pass(*, max_events: int | None = None, now: dt.datetime | None = None) -> PassResult:
    """Process the events after the cursor (at most `max_events` of them). Runs in the estate scope
    (alerts are written per school) and the processor scope (the audit log across schools and the
    events of no school, such as failed sign-ins)."""
    started = time.perf_counter()
    now = now or timezone.now()
    committed: list[float] = []
    with estate_scope(), processor_scope(), connection.cursor() as cursor:
        # Registered first, so it runs first after the commit: the pass's own time ends there.
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PASS_LOCK])
        state, _ = DetectionCursor.objects.select_for_update().get_or_create(pk=1)
        lo = state.last_event_id
        head = committed_through()  # not max(id): schools' events commit out of id order
        hi = head if max_events is None else min(head, lo + max_events)
        if hi <= lo:
            return PassResult(lo, lo, 0, 0, 0, time.perf_counter() - started)
        ctx = PassContext(pass_id=state.passes + 1, lo=lo, hi=hi, horizon=now - OPEN_GRACE)
        timings: dict[str, float] = {"start": time.perf_counter() - started}
        mark = time.perf_counter()
        # The pass's hashing works in memory (the hour groups of a long backlog are many); for this
        # transaction only.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        events = _read_new_events(cursor, ctx, timings)
        mark = time.perf_counter()
        _group(cursor, ctx, timings)
        mark = time.perf_counter()
        findings: list[Finding] = []
        for rule in RULES:
            findings += rule.run(cursor, ctx)
            timings[rule.name], mark = time.perf_counter() - mark, time.perf_counter()
        created = record_findings(findings)
        timings["alerts"], mark = time.perf_counter() - mark, time.perf_counter()
        _forget(cursor, ctx, now)
        timings["forget"], mark = time.perf_counter() - mark, time.perf_counter()
        cursor.execute("DROP TABLE monitoring_new, monitoring_hours, monitoring_groups")
        state.last_event_id = hi
        state.passes = ctx.pass_id
        state.updated_at = now
        state.save()
        timings["finish"] = time.perf_counter() - mark
    ended = time.perf_counter()
    done = committed[0] if committed else ended
    return PassResult(lo, hi, events, len(findings), len(created), done - started, timings, ended - done)


def _read_new_events(cursor: Any, ctx: PassContext, timings: dict[str, float]) -> int:
    """Read the new events once, into two narrow temporary tables (the audit rows carry hashes, user
    agents and JSON the rules do not need): the sign-in and refused-API events row by row (few), and
    every event of a school summed per (school, person or client, hour) in one scan, with the hour's
    subject key, London wall-clock time and day, its weighted reads and its exports, each worked out
    once per hour for every rule. Returns the number of events read."""
    with _timed(timings, "read sign-ins"):
        _read_sign_ins(cursor, ctx)
    with _timed(timings, "read hours"):
        cursor.execute(
            _HOURS.replace("{weight}", weight_sql())
            .replace("{exports}", Exports().actions_sql())
            .replace("{actor}", ACTOR_SQL.replace("e.", "h.")),
            [ctx.lo, ctx.hi],
        )
        cursor.execute("ANALYZE monitoring_hours")
    with _timed(timings, "count"):
        # Every event read counts, of either kind or neither (a sign-out, an event of no school); ids
        # may have gaps, so they are counted (an index-only range of the primary key).
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE id > %s AND id <= %s", [ctx.lo, ctx.hi])
        return int(cursor.fetchone()[0])


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def _read_sign_ins(cursor: Any, ctx: PassContext) -> None:
    cursor.execute(
        """
        CREATE TEMPORARY TABLE monitoring_new ON COMMIT DROP AS
        SELECT id, occurred_at, actor_user_id, actor_client, action, ip_address, lower(detail ->> 'email') AS email
          FROM audit_auditevent
         WHERE id > %s AND id <= %s AND action IN ('sign_in', 'sign_in_failed', 'sign_in_locked_out', 'api_refused')
        """,
        [ctx.lo, ctx.hi],
    )
    cursor.execute("ANALYZE monitoring_new")


_HOURS = """
CREATE TEMPORARY TABLE monitoring_hours ON COMMIT DROP AS
SELECT h.*, {actor} AS k, h.b AT TIME ZONE 'Europe/London' AS local_at,
       date_trunc('day', h.b AT TIME ZONE 'Europe/London') AS local_day FROM (
    SELECT e.school_id, e.actor_user_id, e.actor_client,
           date_bin('1 hour', e.occurred_at, timestamptz '2000-01-01 00:00+00') AS b,
           count(*) AS events,
           count(*) FILTER (WHERE e.action IN ('view', 'search')) AS reads,
           coalesce(sum({weight}) FILTER (WHERE e.action IN ('view', 'search')), 0) AS weight,
           count(*) FILTER (WHERE e.action = ANY({exports})) AS exports,
           min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at, min(e.id) AS first_id, max(e.id) AS last_id
      FROM audit_auditevent e
     WHERE e.id > %s AND e.id <= %s AND e.school_id IS NOT NULL
       AND (e.actor_user_id IS NOT NULL OR e.actor_client <> '')
     GROUP BY 1, 2, 3, 4
) h
"""


def _group(cursor: Any, ctx: PassContext, timings: dict[str, float]) -> None:
    """Every counting rule's groups of this pass; then what the tallies hold for the same buckets is
    added to them (one statement), and the tallies a later pass needs are written (one statement):
    the history of the baseline rules, and every bucket still open."""
    cursor.execute(
        """
        CREATE TEMPORARY TABLE monitoring_groups (
            rule text, school_id bigint, subject_key text, item text, bucket_start timestamptz,
            bucket_end timestamptz, events bigint, weight bigint, first_at timestamptz, last_at timestamptz,
            first_id bigint, last_id bigint
        ) ON COMMIT DROP
        """
    )
    counting = [rule for rule in RULES if isinstance(rule, TallyRule)]
    for rule in counting:
        with _timed(timings, f"group {rule.name}"):
            rule.group(cursor, ctx)
    cursor.execute("ANALYZE monitoring_groups")
    mark = time.perf_counter()
    cursor.execute(
        """
        UPDATE monitoring_groups g
           SET events = g.events + t.events, weight = g.weight + t.weight,
               first_at = least(g.first_at, t.first_at), last_at = greatest(g.last_at, t.last_at),
               first_id = least(g.first_id, t.first_id), last_id = greatest(g.last_id, t.last_id)
          FROM monitoring_tally t
         WHERE t.rule = g.rule AND t.school_id = g.school_id AND t.subject_key = g.subject_key
           AND t.item = g.item AND t.bucket_start = g.bucket_start
        """
    )
    timings["merge"], mark = time.perf_counter() - mark, time.perf_counter()
    history = [rule.name for rule in counting if rule.keeps_history]
    cursor.execute(
        """
        INSERT INTO monitoring_tally AS t (rule, school_id, subject_key, item, bucket_start, bucket_end, events,
            weight, first_at, last_at, first_id, last_id)
        SELECT rule, school_id, subject_key, item, bucket_start, bucket_end, events, weight, first_at, last_at,
               first_id, last_id
          FROM monitoring_groups WHERE rule = ANY(%s) OR bucket_end > %s
        ON CONFLICT (rule, school_id, subject_key, item, bucket_start) DO UPDATE SET
            events = EXCLUDED.events, weight = EXCLUDED.weight, first_at = EXCLUDED.first_at,
            last_at = EXCLUDED.last_at, first_id = EXCLUDED.first_id, last_id = EXCLUDED.last_id
        """,
        [history, ctx.horizon],
    )
    timings["keep"] = time.perf_counter() - mark


def _forget(cursor: Any, ctx: PassContext, now: dt.datetime) -> None:
    """Drop the tallies no pass will need: closed buckets of the rules that keep no history, and
    history older than any baseline."""
    history = [rule.name for rule in RULES if isinstance(rule, TallyRule) and rule.keeps_history]
    cursor.execute(
        "DELETE FROM monitoring_tally WHERE (NOT rule = ANY(%s) AND bucket_end <= %s) OR bucket_end < %s",
        [history, ctx.horizon, now - dt.timedelta(days=TALLY_KEEP_DAYS)],
    )
