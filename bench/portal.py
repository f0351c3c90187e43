"""Parent portal benchmark: 50 signed-in parents at once against gunicorn, on the benchmark LA.

Runs on the database `bench/ingest.py` loaded (`make bench` runs that first); with no schools
there, it loads `--schools` synthetic schools itself. Parents are invited and registered through
the real services (`invite_contacts`, then `invitation_accept`), linked to contacts with parental
responsibility for learners on roll, and every school switches every item on. A gunicorn server
(`steward serve`) is started; each parent signs in over HTTP with a session of its own, and then
`--clients` parents at once loop over the pages a parent reads (children, a child's details,
homework, attendance, behaviour, achievements) for `--seconds`. The baseline, measured first in
the same run under the same concurrency, is the health endpoint `/api/v1/health` (one `SELECT 1`).

Usage: python bench/portal.py [--parents 50] [--clients 50] [--seconds 20] [--workers W]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
# The invitations' emails are not the benchmark's business: keep them in memory.
os.environ.setdefault("STEWARD_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.figures import emit  # noqa: E402
from bench.load import Summary, child_ids, run_load  # noqa: E402
from steward.core import database  # noqa: E402
from steward.demo.mis import _serving  # noqa: E402
from steward.mis.models import LearnerContact, SchoolEnrolment  # noqa: E402
from steward.portal.items import SWITCHES  # noqa: E402
from steward.portal.models import ParentAccount  # noqa: E402
from steward.portal.services import (  # noqa: E402
    InvitationError,
    eligible_contacts,
    invitation_accept,
    invite_contacts,
    settings_update,
)
from steward.tenancy.models import Organisation, User  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402

TARGET_P95_MS = 50.0
PASSWORD = "bench-parent-password-2026"  # noqa: S105 - the benchmark's own throwaway accounts
ITEM_PAGES = ("homework", "attendance", "behaviour", "achievements")
BENCH_STAFF = "portal-bench@bench.invalid"


def ensure_schools(count: int) -> list[Organisation]:
    call_command("setup", verbosity=0)  # migrate a database loaded before the portal existed
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn"))
    if schools:
        return schools
    from bench.ingest import create_schools, fresh_database, steward_ingest
    from steward.demo.synthetic import generate

    work = Path(tempfile.mkdtemp(prefix="steward-bench-portal-"))
    print(f"no schools in {os.environ['STEWARD_DB_NAME']}: generating and ingesting {count} ...", flush=True)
    manifest = generate(work, schools=count, seed=1, formats={"csv"}, jobs=2)
    fresh_database()
    by_urn = create_schools(manifest)
    steward_ingest(sorted(work.glob("*.zip")), by_urn)
    return sorted(by_urn.values(), key=lambda s: s.urn)


def bench_staff() -> User:
    user = User.objects.filter(email=BENCH_STAFF).first()
    return user or User.objects.create_user(email=BENCH_STAFF, password=None, full_name="Portal bench")


def candidates(school_id: int) -> list[str]:
    """Eligible contacts, those responsible for the most children on roll first."""
    eligible = list(eligible_contacts(school_id).values_list("source_id", flat=True))
    today = timezone.localdate()
    on_roll = SchoolEnrolment.objects.filter(school_id=school_id, entry_date__lte=today).filter(
        Q(leaving_date__isnull=True) | Q(leaving_date__gt=today)
    )
    children = Counter(
        LearnerContact.objects.filter(
            school_id=school_id,
            parental_responsibility=True,
            learner_source_id__in=on_roll.values("learner_source_id"),
        ).values_list("contact_source_id", flat=True)
    )
    return sorted(eligible, key=lambda sid: -children[sid])


def register_parents(schools: list[Organisation], count: int) -> list[str]:
    """Switch every item on, then invite and register `count` parents spread over the schools;
    returns their emails. Accounts from an earlier run are removed first."""
    with tenant_scope([s.id for s in schools]):  # their notifications are tenant rows
        removed, _ = ParentAccount.objects.all().delete()
    if removed:
        print(f"removed {removed:,} portal rows left by an earlier run")
    staff = bench_staff()
    queues: dict[int, list[str]] = {}
    for school in schools:
        with tenant_scope([school.id]):
            settings_update(school_id=school.id, values=dict.fromkeys(SWITCHES, True), by=staff)
            queues[school.id] = candidates(school.id)
    emails: list[str] = []
    started = time.perf_counter()
    while len(emails) < count and any(queues.values()):
        for school in schools:
            if len(emails) >= count or not queues[school.id]:
                continue
            source_id = queues[school.id].pop(0)
            with tenant_scope([school.id]):
                contacts = eligible_contacts(school.id).filter(source_id=source_id)
                report = invite_contacts(
                    school=school, contacts=contacts, invited_by=staff, base_url="http://127.0.0.1"
                )
            if source_id not in report.tokens:
                continue
            try:
                parent = invitation_accept(
                    token=report.tokens[source_id], full_name=f"Bench parent {len(emails) + 1}", password=PASSWORD
                )
            except InvitationError:
                continue  # the same email address at another school: that person already registered
            emails.append(parent.email)
    if len(emails) < count:
        sys.exit(f"only {len(emails)} contacts could be registered; need {count}")
    print(f"registered {len(emails)} parents in {time.perf_counter() - started:.1f} s (real invite and accept)")
    return emails


def sign_in(url: str, email: str) -> tuple[httpx.Client, list[int]]:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/portal/sign-in/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in page"
    answer = client.post(
        "/portal/sign-in/",
        data={"csrfmiddlewaretoken": token.group(1), "email": email, "password": PASSWORD},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"{email} could not sign in: HTTP {answer.status_code}")
    children = child_ids(client.get("/portal/").text)
    if not children:
        raise RuntimeError(f"{email} sees no children")
    return client, children


class LockWatch:
    """Samples, every 50 ms, how many server backends wait on a lock (the audit chain's advisory
    lock, taken by every portal page, is the one to watch)."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with database.connect_owner(os.environ["STEWARD_DB_NAME"]) as conn:
            conn.autocommit = True
            while not self._stop.wait(0.05):
                found = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()
                self.samples.append(int(found[0]) if found else 0)

    def __enter__(self) -> LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0


def portal_pages(children: list[int]) -> list[tuple[str, str]]:
    pages = [("children", "/portal/")]
    for child in children:
        pages.append(("child details", f"/portal/children/{child}/"))
        pages += [(item, f"/portal/children/{child}/{item}/") for item in ITEM_PAGES]
    return pages


def row(label: str, summary: Summary) -> str:
    return (
        f"{label:<40}{summary.requests:>10,}{summary.rate:>10,.0f}{summary.p50:>9.1f}{summary.p95:>9.1f}"
        f"{summary.p99:>9.1f}{summary.errors:>8}"
    )


def main(argv: list[str] | None = None) -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=6, help="schools to load if the database has none")
    parser.add_argument("--parents", type=int, default=50)
    parser.add_argument("--clients", type=int, default=50, help="parents signed in and requesting at once")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of each run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds a parent reads a page before the next (0: none)"
    )
    parser.add_argument("--workers", type=int, default=2 * cores + 1, help="gunicorn workers (default: 2 x cores + 1)")
    args = parser.parse_args(argv)
    if args.clients > args.parents:
        parser.error("--clients may not exceed --parents")

    schools = ensure_schools(args.schools)
    emails = register_parents(schools, args.parents)
    print(
        f"server: gunicorn (steward serve, ASGI worker), {args.workers} workers on {cores} cores; "
        f"{args.clients} concurrent clients for {args.seconds:.0f} s each (after {args.warmup:.0f} s warm-up)",
        flush=True,
    )
    with _serving(workers=args.workers) as url:
        with ThreadPoolExecutor(max_workers=4) as pool:
            signed_in = list(pool.map(lambda email: sign_in(url, email), emails[: args.clients]))
        clients = [client for client, _ in signed_in]
        try:
            health = run_load(
                clients, lambda n: [("health", "/api/v1/health")], seconds=args.seconds, warmup=args.warmup
            )
            with LockWatch() as locks:
                saturated = run_load(
                    clients, lambda n: portal_pages(signed_in[n][1]), seconds=args.seconds, warmup=args.warmup
                )
            portal = run_load(
                clients,
                lambda n: portal_pages(signed_in[n][1]),
                seconds=args.seconds,
                warmup=args.warmup,
                think=args.think,
            )
        finally:
            for client in clients:
                client.close()

    print()
    print(f"{'measure':<40}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    print(row("health endpoint (baseline)", health))
    print(row("portal, no pause between pages", saturated))
    print(row(f"portal, parents reading {args.think:g} s/page", portal))
    for page, p95 in sorted(portal.per_page.items()):
        print(f"  {page:<38}{'':>29}{p95:>9.1f}")
    print()
    children = sum(len(c) for _, c in signed_in)
    print(f"{args.clients} parents with {children} children over {len(schools)} schools; all items switched on")
    print(f"server backends waiting on a lock during the no-pause run: {locks.mean:.1f} on average")
    print(
        f"with no pause, {args.clients} clients keep the server saturated: latency is then queueing "
        f"(clients / throughput = {args.clients / max(saturated.rate, 0.001) * 1000:.0f} ms), not page cost"
    )
    print(
        f"portal p95 / health p95: {portal.p95 / health.p95:.1f}; "
        f"portal req/s / health req/s: {portal.rate / health.rate:.2f}"
    )
    verdict = "met" if portal.p95 < TARGET_P95_MS and portal.errors == 0 else "NOT met"
    print(
        f"target: p95 < {TARGET_P95_MS:.0f} ms with {args.clients} concurrent parents reading pages, no errors: "
        f"p95 {portal.p95:.1f} ms ({portal.p95 / TARGET_P95_MS:.2f} x target), {portal.errors} errors: {verdict}"
    )

    emit(
        "portal",
        schools=len(schools),
        portal_p95_ms=round(portal.p95, 1),
        portal_rate=round(portal.rate, 1),
        health_p95_ms=round(health.p95, 1),
        health_rate=round(health.rate, 1),
        portal_errors=portal.errors,
    )


if __name__ == "__main__":
    main()
