"""Monitoring benchmark: events/s of a detection pass over a synthetic audit stream, against a plain
`SELECT count(*)` scan of the same events in the same run; then passes over +10k new events, whose
cost must follow the new events only (the tallies carry what was counted before).

Runs in a scratch database of its own (`steward_bench_monitoring`, recreated each run) with a
scratch set of schools and staff, so the benchmark LA's hash chain is never touched: the synthetic
events are COPYed in as the owner (the stream is for counting, not a chain to verify). The mix: page
views of one to four MIS records (most; a few hundred weighted reads a day per person, under the
floors, so the rules judge every tally but few fire), searches, successful and failed sign-ins from UK and foreign
addresses, exports and refused API calls, over the 28 days before a fixed date. Target: a pass at
>= 0.25 x the scan rate (issue #16). Not a timed test: it prints ratios.

Usage: python bench/monitoring.py [--events 1000000] [--schools 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["STEWARD_DB_NAME"] = "steward_bench_monitoring"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from steward.core import database  # noqa: E402
from steward.monitoring.detection import detection_pass  # noqa: E402
from steward.tenancy import services as tenancy  # noqa: E402
from steward.tenancy.models import Membership, Organisation, Role, User  # noqa: E402

END = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=28)
UNUSABLE = make_password(None)
RECORD_TYPES = ["mis.Learner", "mis.Contact", "mis.SessionAttendance", "mis.SpecialNeeds", "mis.Behaviour"]
UK = ["81.2.69.160", "81.2.69.142", "86.1.1.1"]
ABROAD = ["8.8.8.8", "5.39.0.1", "1.1.1.1"]
COLUMNS = (
    "id, occurred_at, actor_user_id, actor_client, actor_label, organisation_id, school_id, action, object_type, "
    "object_ids, purpose, request_id, ip_address, user_agent, detail, prev_hash, hash"
)


def fresh_database(schools: int) -> tuple[list[int], dict[int, int]]:
    """The scratch database and its schools, each with 50 members of staff."""
    name = os.environ["STEWARD_DB_NAME"]
    for alias in ("default", "owner"):
        connections[alias].close()
    database.drop_database(name)
    call_command("setup", verbosity=0)
    processor = Organisation.objects.create(kind=Organisation.Kind.PROCESSOR, name="Bench ICT service")
    del processor
    school_ids: list[int] = []
    staff: dict[int, int] = {}
    for n in range(schools):
        school = tenancy.school_create(
            name=f"Bench monitoring school {n}",
            urn=990000 + n,
            la_code="998",
            establishment_number=str(2000 + n),
            phase=Organisation.Phase.PRIMARY,
        )
        school_ids.append(school.id)
        # Made in bulk with no usable password: hashing 1,000 passwords would dwarf the benchmark.
        users = [
            User(email=f"staff{n}-{k}@bench.invalid", full_name=f"Staff {n}-{k}", password=UNUSABLE) for k in range(50)
        ]
        for user in User.objects.bulk_create(users):
            Membership.objects.create(user=user, organisation=school, role=Role.SCHOOL_ADMIN)
            staff[user.pk] = school.id
    return school_ids, staff


def _row(event_id: int, at: dt.datetime, rng: random.Random, staff: dict[int, int], users: list[int]) -> str:
    user = rng.choice(users)
    school = staff[user]
    roll = rng.random()
    client, school_field, object_type, ids, ip, detail, action = "", str(school), "", "{}", "\\N", "{}", "view"
    if roll < 0.80:
        object_type = rng.choice(RECORD_TYPES)
        ids = "{" + ",".join(str(rng.randrange(2000)) for _ in range(rng.randint(1, 4))) + "}"
    elif roll < 0.88:
        action, object_type, ids = "search", "mis.Learner", "{" + str(rng.randrange(2000)) + "}"
    elif roll < 0.94:
        action, school_field = "sign_in", "\\N"
        ip = rng.choice(ABROAD) if rng.random() < 0.001 else rng.choice(UK)
    elif roll < 0.97:
        action, school_field, ip = "sign_in_failed", "\\N", f"203.0.{rng.randrange(256)}.{rng.randrange(256)}"
        detail = '{"email": "staff' + str(rng.randrange(1000)) + '@bench.invalid"}'
    elif roll < 0.99:
        action, school_field, user, client = "api_refused", "\\N", 0, f"client-{rng.randrange(5)}"
    else:
        action, object_type = "export_csv", "audit.AuditEvent"
    actor = str(user) if user else "\\N"
    return (
        f"{event_id}\t{at.isoformat()}\t{actor}\t{client}\t\t{school_field}\t{school_field}\t{action}\t{object_type}\t"
        f"{ids}\t\t\t{ip}\t\t{detail}\t\t{event_id:064x}\n"
    )


def copy_events(first_id: int, count: int, start: dt.datetime, end: dt.datetime, staff: dict[int, int]) -> None:
    """`count` events with ids from `first_id`, evenly spread from `start` to `end`, by COPY as the owner."""
    rng = random.Random(first_id)
    users = sorted(staff)
    step = (end - start) / count
    with connections["owner"].cursor() as cursor:
        with cursor.copy(f"COPY audit_auditevent ({COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            chunk: list[str] = []
            for i in range(count):
                chunk.append(_row(first_id + i, start + step * i, rng, staff, users))
                if len(chunk) == 10000:
                    copy.write("".join(chunk))
                    chunk = []
            copy.write("".join(chunk))
        cursor.execute("SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), %s)", [first_id + count])
        cursor.execute("ANALYZE audit_auditevent")


def count_scan(lo: int, hi: int) -> float:
    """The baseline: a plain count of the same events (the second of two runs, on a warm cache)."""
    seconds = 0.0
    with connections["owner"].cursor() as cursor:
        for _ in range(2):
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM audit_auditevent WHERE id > %s AND id <= %s", [lo, hi])
            cursor.fetchone()
            seconds = time.perf_counter() - started
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--increment", type=int, default=10_000)
    args = parser.parse_args(argv)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    _, staff = fresh_database(args.schools)
    started = time.perf_counter()
    copy_events(1, args.events, END - SPAN, END, staff)
    print(f"monitoring: {args.events:,} synthetic audit events COPYed in {time.perf_counter() - started:.1f} s")

    scan = count_scan(0, args.events)
    full = detection_pass(now=END)
    scan_rate, pass_rate = args.events / scan, full.events / full.seconds
    print(f"  SELECT count(*) of the same events: {scan:.3f} s ({scan_rate:,.0f} events/s)")
    print(
        f"  detection pass: {full.events:,} events in {full.seconds:.2f} s to its commit ({pass_rate:,.0f} events/s), "
        f"{full.findings} findings, {full.alerts_created} alerts; then {full.after_commit_seconds:.2f} s emailing them"
    )
    print(f"  ratio to the scan: {pass_rate / scan_rate:.3f} (target >= 0.25)")
    print("  steps: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in full.timings.items()))

    per_event = full.seconds / full.events
    for n in (1, 2):
        first = args.events + (n - 1) * args.increment + 1
        copy_events(first, args.increment, END, END + dt.timedelta(hours=n), staff)
        step = detection_pass(now=END + dt.timedelta(hours=n))
        expected = per_event * step.events
        print(
            f"  incremental pass {n}: +{step.events:,} events in {step.seconds:.3f} s "
            f"({step.seconds / expected:.2f} x the full pass's cost per event; the full pass took "
            f"{full.seconds / step.seconds:.0f} x as long for {full.events / step.events:.0f} x the events)"
        )


if __name__ == "__main__":
    main()
