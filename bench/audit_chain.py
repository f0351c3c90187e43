"""Audit chain benchmark: audited events/s with N concurrent writers, and the chain lock's share.

Every audited request writes its event through `audit.services.audit_record`, which takes the
chain's advisory lock and holds it until the writer's transaction commits (the commit's WAL flush
too, and for a service its whole transaction). This measures what that costs under concurrency:
N threads, each its own database connection, write events of K schools (one event per short
transaction; or, the "service" variant, the event then 5 ms of other work before the commit, as a
service that audits inside its own transaction) for T seconds. The baseline, in the same run, is
the same rows (the same hash worked out per row) inserted into a plain table with no chain and no lock.

The lock's share is sampled from `pg_stat_activity` every 10 ms: the writers' backends waiting on an
advisory lock, over all the writers' backend samples (active, idle in transaction or waiting).

Runs in a scratch database of its own (`steward_bench_audit`, recreated each run). Writers are
capped by the server's `max_connections` (printed when it caps them). Not a timed test.

Usage: python bench/audit_chain.py [--writers 50 200] [--schools 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["STEWARD_DB_NAME"] = "steward_bench_audit"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.figures import emit  # noqa: E402
from steward.audit.chain import GENESIS, event_hash  # noqa: E402
from steward.audit.services import audit_record  # noqa: E402
from steward.core import database  # noqa: E402
from steward.tenancy.scope import processor_scope  # noqa: E402

SERVICE_WORK_SECONDS = 0.005
HEADROOM = 10  # connections kept for the sampler, the owner and anyone else


def fresh_database() -> None:
    name = os.environ["STEWARD_DB_NAME"]
    for alias in ("default", "owner"):
        connections[alias].close()
    database.drop_database(name)
    call_command("setup", verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain AS SELECT * FROM audit_auditevent WITH NO DATA")
        cursor.execute("CREATE SEQUENCE bench_plain_id")
        cursor.execute("ALTER TABLE bench_plain ADD PRIMARY KEY (id)")
        cursor.execute(f"GRANT SELECT, INSERT ON bench_plain TO {database.APP_ROLE}")
        cursor.execute(f"GRANT USAGE ON SEQUENCE bench_plain_id TO {database.APP_ROLE}")


def write_plain(school_id: int, n: int) -> None:
    """The baseline: the same row and the same hash, into a table with no chain and no lock."""
    values = {"id": n, "occurred_at": timezone.now(), "school_id": school_id, "action": "view", "prev_hash": GENESIS}
    values.update(object_type="mis.Learner", object_ids=[str(n)], actor_label="Bench writer", detail={})
    digest = event_hash(values)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_plain (id, occurred_at, actor_label, actor_client, organisation_id, school_id,"
            " action, object_type, object_ids, purpose, request_id, user_agent, detail, prev_hash, hash)"
            " VALUES (nextval('bench_plain_id'), %s, %s, '', %s, %s, 'view', 'mis.Learner', %s, '', '', '',"
            " '{}', %s, %s)",
            [values["occurred_at"], "Bench writer", school_id, school_id, [str(n)], GENESIS, digest],
        )


def write_chained(school_id: int, n: int) -> None:
    audit_record(
        action="view",
        actor_label="Bench writer",
        organisation_id=school_id,
        school_id=school_id,
        object_type="mis.Learner",
        object_ids=[n],
    )


def writer(kind: str, service: bool, schools: list[int], index: int, stop: float, counts: list[int]) -> None:
    write = write_chained if kind == "chain" else write_plain
    n = 0
    try:
        while time.perf_counter() < stop:
            school = schools[(index + n) % len(schools)]
            with processor_scope():  # one transaction per event
                write(school, n)
                if service:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_sleep(%s)", [SERVICE_WORK_SECONDS])
            n += 1
    finally:
        counts[index] = n
        connection.close()


def sample(stop: threading.Event, pids: set[int], tally: dict[str, int]) -> None:
    """Every 10 ms: how many writer backends exist, and how many wait on an advisory lock."""
    with database.connect_owner(os.environ["STEWARD_DB_NAME"]) as conn:
        conn.autocommit = True
        while not stop.is_set():
            rows = conn.execute(
                "SELECT pid, wait_event_type, wait_event FROM pg_stat_activity WHERE usename = %s AND state <> 'idle'",
                [database.APP_ROLE],
            ).fetchall()
            for pid, wait_type, wait_event in rows:
                pids.add(pid)
                tally["samples"] += 1
                if wait_type == "Lock" and wait_event == "advisory":
                    tally["advisory"] += 1
            time.sleep(0.01)


def run(kind: str, service: bool, writers: int, schools: list[int], seconds: float) -> dict[str, float]:
    counts = [0] * writers
    stop_at = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=writer, args=(kind, service, schools, i, stop_at, counts)) for i in range(writers)
    ]
    done = threading.Event()
    tally = {"samples": 0, "advisory": 0}
    sampler = threading.Thread(target=sample, args=(done, set(), tally))
    started = time.perf_counter()
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    share = tally["advisory"] / tally["samples"] if tally["samples"] else 0.0
    return {"events_per_s": round(sum(counts) / elapsed, 1), "lock_share": round(share, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    fresh_database()
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])  # type: ignore[index]
    connection.close()
    schools = list(range(1, args.schools + 1))
    figures: dict[str, float | int | str] = {"schools": args.schools, "seconds": args.seconds}
    figures["max_connections"] = max_connections
    print(f"{args.schools} schools, {args.seconds:.0f} s per run, server max_connections {max_connections}")
    print(f"{'writers':>8} {'work':>8} {'plain/s':>9} {'chain/s':>9} {'ratio':>6} {'lock share':>10}")
    for asked in args.writers:
        writers = min(asked, max_connections - HEADROOM)
        if writers < asked:
            print(f"({asked} writers asked; the server allows {max_connections} connections: {writers} used)")
        for service in (False, True):
            work = "service" if service else "short"
            plain = run("plain", service, writers, schools, args.seconds)
            chain = run("chain", service, writers, schools, args.seconds)
            ratio = chain["events_per_s"] / plain["events_per_s"] if plain["events_per_s"] else 0.0
            print(
                f"{writers:>8} {work:>8} {plain['events_per_s']:>9.0f} {chain['events_per_s']:>9.0f} "
                f"{ratio:>6.2f} {chain['lock_share']:>10.2f}"
            )
            key = f"{asked}_{work}"
            figures[f"writers_{key}"] = writers
            figures[f"plain_per_s_{key}"] = plain["events_per_s"]
            figures[f"chain_per_s_{key}"] = chain["events_per_s"]
            figures[f"chain_vs_plain_{key}"] = round(ratio, 3)
            figures[f"lock_share_{key}"] = chain["lock_share"]
            figures[f"plain_lock_share_{key}"] = plain["lock_share"]
    with transaction.atomic():
        from steward.audit.selectors import audit_chain_verify

        report = audit_chain_verify()
    print(f"chain after the runs: {'intact' if report.ok else 'BROKEN'}, {report.checked} events verified")
    figures["chain_intact"] = report.ok
    figures["chain_events"] = report.checked
    emit("audit_chain", **figures)


if __name__ == "__main__":
    main()
