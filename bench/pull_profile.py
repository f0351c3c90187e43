"""Where a delta-pull page's time goes: its SQL statement by statement, and the Python around them.

`bench/sharing.py` says how fast a recipient pulls; this says what bounds it (issue #18 asks for
the profile behind a missed target). It runs on the database `bench/ingest.py` loaded, approves a
flow for one school as `bench/sharing.py` does, and requests pages of session attendance through
Django's test client in this process (the whole request: middleware, token, flows, the page's
JSON written by PostgreSQL, its disclosure, its audit event, commit), with every SQL statement
timed and the Python profiled. HTTP and the server's worker model are left out; `bench/sharing.py`
measures them.

Usage: python bench/pull_profile.py [--pages 60] [--limit 1000]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402

from bench.sharing import RECORD_TYPE, approve_flows  # noqa: E402
from steward.tenancy.models import ApiClient, Organisation  # noqa: E402
from steward.tenancy.services import api_client_create  # noqa: E402

_WORDS = re.compile(r"\s+")


def statement_kind(sql: object) -> str:
    """A statement by its first words and table, so the thousand pages' statements add up by kind."""
    text = _WORDS.sub(" ", sql.as_string() if hasattr(sql, "as_string") else str(sql)).strip()
    table = re.search(r'(?:FROM|INTO|UPDATE|WITH) "?([a-z_]+)"?', text)
    return f"{' '.join(text.split(' ')[:2])[:28]} {table.group(1) if table else ''}".strip()


class StatementTimer:
    """Django's execute wrapper: the time of every statement, by kind."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statement_kind(sql)
            self.seconds[kind] += time.perf_counter() - started
            self.count[kind] += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn").first()
    if school is None:
        sys.exit("no schools: run bench/ingest.py first")
    approve_flows([school])
    _, client_id, secret = api_client_create(
        name="profile recipient", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    client = Client(HTTP_HOST="127.0.0.1")
    issued = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        headers={"Authorization": "Basic " + _basic(client_id, secret)},
    )
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    url = f"/api/v1/schools/{school.urn}/{RECORD_TYPE}"
    since = 0
    for _ in range(3):  # warm: the first pages import and cache what later pages reuse
        since = client.get(url, {"since": since, "limit": args.limit}, headers=headers).json()["next_since"]
    timer, rows = StatementTimer(), 0
    started = time.perf_counter()
    with connection.execute_wrapper(timer):  # timed without the profiler, whose overhead is Python's
        for _ in range(args.pages):
            body = client.get(url, {"since": since, "limit": args.limit}, headers=headers).json()
            rows += len(body["records"])
            since = body["next_since"]
    seconds = time.perf_counter() - started
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.pages):  # the same again, profiled, for where Python's share goes
        since = client.get(url, {"since": since, "limit": args.limit}, headers=headers).json()["next_since"]
    profile.disable()
    per_page = seconds / args.pages * 1000
    sql_total = sum(timer.seconds.values())
    print(f"\n{args.pages} pages of {args.limit} ({rows:,} records) of {school.name}: {per_page:.1f} ms a page")
    print(f"  ({rows / seconds:,.0f} records/s in one process without HTTP)")
    print(f"\n{'statement (by kind)':<60}{'a page':>8}{'ms/page':>10}{'share':>8}")
    for kind, value in sorted(timer.seconds.items(), key=lambda item: -item[1]):
        count = timer.count[kind] / args.pages
        print(f"{kind:<60}{count:>8.1f}{value / args.pages * 1000:>10.2f}{value / seconds:>8.0%}")
    print(f"{'all SQL':<60}{'':>8}{sql_total / args.pages * 1000:>10.2f}{sql_total / seconds:>8.0%}")
    python = seconds - sql_total
    print(f"{'Python (the rest)':<60}{'':>8}{python / args.pages * 1000:>10.2f}{python / seconds:>8.0%}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
    print(f"\nPython of {args.pages} more pages, by cumulative time (cProfile, the top 40; its overhead included):")
    print("\n".join(line[:160] for line in out.getvalue().splitlines() if line.strip()))
    for alias in connections:
        connections[alias].close()


def _basic(client_id: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


if __name__ == "__main__":
    main()
