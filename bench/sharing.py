"""Sharing benchmark: a recipient's full delta pull through the real API, against raw COPY TO.

Runs on the database `bench/ingest.py` loaded (run that first; `make bench` does). Every school
gets an approved flow releasing all of the LA data exchange's categories to one recipient; the
recipient then pulls every session-attendance record, page by page (1,000 a page), over HTTP
from a gunicorn server, and each page is recorded as a disclosure, as in production.

Usage: python bench/sharing.py [--limit 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.db import connections  # noqa: E402

from bench.figures import emit  # noqa: E402
from steward.audit.actor import Actor  # noqa: E402
from steward.demo.mis import _serving  # noqa: E402
from steward.register.models import ProcessingActivity, Recipient  # noqa: E402
from steward.sharing import services  # noqa: E402
from steward.tenancy.models import ApiClient, Organisation  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402
from steward.tenancy.services import api_client_create  # noqa: E402

RECORD_TYPE = "session-attendance"


def approve_flows(schools: list[Organisation]) -> None:
    activity = ProcessingActivity.objects.get(service="data_exchange")
    recipient = Recipient.objects.get(code="la-attendance")
    categories = [c for c in activity.categories.values_list("code", flat=True) if ".special." not in c]
    for school in schools:
        with tenant_scope([school.id]):
            flow = services.flow_request(
                school=school,
                recipient=recipient,
                activity=activity,
                purpose="Benchmark pull",
                lawful_basis="6.1.c",
                categories=categories,
                actor=Actor.system("bench"),
            )
            services.flow_approve(flow=flow, actor=Actor.system("bench"))


def raw_copy_to(schools: list[Organisation]) -> tuple[int, float]:
    rows = 0
    started = time.perf_counter()
    with connections["owner"].cursor() as wrapper:
        cursor = wrapper.cursor
        for school in schools:
            query = (
                "COPY (SELECT change_version, source_id, learner_source_id, date, session, mark, minutes_late, "
                f"comment FROM mis_sessionattendance WHERE school_id = {school.id} ORDER BY change_version) "
                "TO STDOUT"
            )
            with cursor.copy(query) as copy:
                for chunk in copy:
                    rows += bytes(chunk).count(b"\n")
    return rows, time.perf_counter() - started


def api_pull(
    url: str, client_id: str, secret: str, schools: list[Organisation], limit: int
) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    rows = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        issued = http.post(
            "/oauth/token/", data={"grant_type": "client_credentials", "scope": "read"}, auth=(client_id, secret)
        )
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        started = time.perf_counter()
        for school in schools:
            since, more = 0, True
            while more:
                began = time.perf_counter()
                page = http.get(
                    f"/api/v1/schools/{school.urn}/{RECORD_TYPE}",
                    params={"since": since, "limit": limit},
                    headers=headers,
                )
                latencies.append(time.perf_counter() - began)
                page.raise_for_status()
                body = page.json()
                rows += len(body["records"])
                since, more = body["next_since"], body["more"]
        return rows, time.perf_counter() - started, latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn"))
    if not schools:
        sys.exit("no schools: run bench/ingest.py first")
    approve_flows(schools)
    _, client_id, secret = api_client_create(
        name="bench recipient", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    raw_rows, raw_seconds = raw_copy_to(schools)
    with _serving() as url:
        rows, seconds, latencies = api_pull(url, client_id, secret, schools, args.limit)
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000
    raw_rate, api_rate = raw_rows / raw_seconds, rows / seconds
    print()
    print(f"{'measure':<52}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'vs COPY':>10}")
    label = "raw COPY ... TO of the same rows (limit)"
    print(f"{label:<52}{raw_rows:>12,}{raw_seconds:>10.2f}{raw_rate:>12,.0f}{1:>10.2f}")
    print(
        f"{'API delta pull, ' + str(args.limit) + ' a page, disclosures logged':<52}{rows:>12,}{seconds:>10.2f}"
        f"{api_rate:>12,.0f}{api_rate / raw_rate:>10.2f}"
    )
    print(f"\npages: {len(latencies)}; latency p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {p95:.1f} ms")
    print(f"targets: >= 50,000 records/s: {api_rate:,.0f}; p95 < 50 ms for {args.limit}-record pages: {p95:.1f} ms")
    emit(
        "sharing",
        schools=len(schools),
        pull_rows=rows,
        pull_seconds=round(seconds, 3),
        pull_rate=round(api_rate),
        pull_p95_ms=round(p95, 1),
        copy_to_rate=round(raw_rate),
        pull_vs_copy=round(api_rate / raw_rate, 3),
        pull_us_per_row=round(seconds / rows * 1e6, 3),
    )


if __name__ == "__main__":
    main()
