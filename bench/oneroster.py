"""OneRoster benchmark: a learning platform reading every pupil a page at a time, against raw COPY TO.

Runs on the database `bench/ingest.py` loaded (run that first; `make bench` does). Every school
gets an approved rostering flow to the learning app (pupils' names, enrolments and groups, staff);
the app's client then reads `students` 100 a page (the specification's default) over HTTP from a
gunicorn server until the last page, as a platform's nightly sync does, and every page is logged as
a disclosure, as in production. Measured in this one run:
- the limit: raw `COPY (SELECT … FROM mis_learner …) TO STDOUT` of the same learners' rows;
- the OneRoster read: records/s over all pages, the first (cold) page, and p50/p95 per page;
- the same with `sort=familyName` and a `filter` on dateLastModified, a platform's delta read.

Usage: python bench/oneroster.py [--limit 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.db import connections  # noqa: E402

from steward.audit.actor import Actor  # noqa: E402
from steward.demo.mis import _serving  # noqa: E402
from steward.register.models import ProcessingActivity, Recipient  # noqa: E402
from steward.sharing import services  # noqa: E402
from steward.sharing.models import DataFlow  # noqa: E402
from steward.tenancy.models import ApiClient, Organisation  # noqa: E402
from steward.tenancy.scope import estate_scope, tenant_scope  # noqa: E402
from steward.tenancy.services import api_client_create  # noqa: E402

RECIPIENT = "learning-app"
CATEGORIES = ["learner.identity", "learner.enrolment", "learner.groups", "staff.identity", "staff.assignment"]
PATH = "/ims/oneroster/rostering/v1p2/students"


def approve_flows(schools: list[Organisation]) -> None:
    """An approved rostering flow to the learning app at every school (once; kept between runs)."""
    activity = ProcessingActivity.objects.get(service="rostering")
    recipient = Recipient.objects.get(code=RECIPIENT)
    for school in schools:
        with tenant_scope([school.id]):
            if DataFlow.objects.filter(recipient=recipient, activity=activity, status="approved").exists():
                continue
            flow = services.flow_request(
                school=school,
                recipient=recipient,
                activity=activity,
                purpose="Pupils' accounts and classes in the learning app (benchmark)",
                lawful_basis="6.1.e",
                categories=CATEGORIES,
                actor=Actor.system("bench"),
            )
            services.flow_approve(flow=flow, actor=Actor.system("bench"))


def raw_copy_to(schools: list[Organisation]) -> tuple[int, float]:
    """The floor: the learners' columns a student record is made of, streamed out by COPY."""
    ids = ",".join(str(s.id) for s in schools)
    query = (
        "COPY (SELECT school_id, source_id, legal_forename, legal_surname, preferred_forename, "
        f"preferred_surname, middle_names, updated_at FROM mis_learner WHERE school_id IN ({ids}) "
        "ORDER BY school_id, source_id) TO STDOUT"
    )
    rows = 0
    started = time.perf_counter()
    with connections["owner"].cursor() as wrapper, wrapper.cursor.copy(query) as copy:
        for chunk in copy:
            rows += bytes(chunk).count(b"\n")
    return rows, time.perf_counter() - started


def read_all(http: httpx.Client, headers: dict[str, str], limit: int, **params: str) -> tuple[int, float, list[float]]:
    """Every page of `students` with these parameters: records, seconds and each page's latency."""
    latencies: list[float] = []
    rows, offset, total = 0, 0, None
    started = time.perf_counter()
    while total is None or offset < total:
        began = time.perf_counter()
        page = http.get(PATH, params={**params, "limit": limit, "offset": offset}, headers=headers)
        latencies.append(time.perf_counter() - began)
        page.raise_for_status()
        total = int(page.headers["X-Total-Count"])
        rows += len(page.json()["users"])
        offset += limit
    return rows, time.perf_counter() - started, latencies


def row(label: str, rows: int, seconds: float, floor_rate: float) -> str:
    rate = rows / seconds
    return f"{label:<58}{rows:>10,}{seconds:>10.2f}{rate:>12,.0f}{rate / floor_rate:>10.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args(argv)
    with estate_scope():
        schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn"))
    if not schools:
        sys.exit("no schools: run bench/ingest.py first")
    approve_flows(schools)
    _, client_id, secret = api_client_create(
        name="bench learning app", kind=ApiClient.Kind.RECIPIENT, recipient_code=RECIPIENT
    )
    raw_rows, raw_seconds = raw_copy_to(schools)
    floor_rate = raw_rows / raw_seconds
    runs: dict[str, tuple[int, float, list[float]]] = {}
    with _serving() as url, httpx.Client(base_url=url, timeout=120) as http:
        issued = http.post(
            "/oauth/token/",
            data={"grant_type": "client_credentials", "scope": "roster-core.readonly"},
            auth=(client_id, secret),
        )
        issued.raise_for_status()
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        runs["all students, default order"] = read_all(http, headers, args.limit)
        runs["sorted by familyName"] = read_all(http, headers, args.limit, sort="familyName")
        runs["delta filter dateLastModified>'2000-01-01T00:00:00Z'"] = read_all(
            http, headers, args.limit, filter="dateLastModified>'2000-01-01T00:00:00Z'"
        )
    print()
    print(f"{len(schools)} schools, {raw_rows:,} learners; pages of {args.limit}")
    print(f"{'measure':<58}{'records':>10}{'seconds':>10}{'records/s':>12}{'vs COPY':>10}")
    print(row("raw COPY ... TO of the same learners (the limit)", raw_rows, raw_seconds, floor_rate))
    summary: list[dict[str, Any]] = []
    for label, (rows, seconds, latencies) in runs.items():
        if rows != raw_rows:
            sys.exit(f"{label}: read {rows:,} records, expected {raw_rows:,}")
        print(row(f"OneRoster, {label}", rows, seconds, floor_rate))
        later = latencies[1:] or latencies
        summary.append(
            {
                "label": label,
                "pages": len(latencies),
                "first": latencies[0] * 1000,
                "p50": statistics.median(later) * 1000,
                "p95": statistics.quantiles(later, n=20)[18] * 1000 if len(later) > 1 else later[0] * 1000,
            }
        )
    print("\nper page (ms): the first on each server worker maps the roster; the rest are slices of it")
    for s in summary:
        timing = f"first {s['first']:>8.1f}  p50 {s['p50']:>6.1f}  p95 {s['p95']:>6.1f}"
        print(f"  {s['label']:<56} pages {s['pages']:>4}  {timing}")


if __name__ == "__main__":
    main()
