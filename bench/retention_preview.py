"""Retention preview benchmark: the time to preview what the sweep would delete over every school.

Runs on the database `bench/ingest.py` loaded (run that first; `make bench` does). The preview
(`retention.selectors.retention_preview`, every school's targets and the processor's) is what the
DPO's Retention page and the nightly sweep compute first, so its cost grows with the schools an ICT
service hosts. The baseline, measured in the same run, is one plain `SELECT school_id, count(*)` of the
largest table grouped by school (reading the same rows once, with no rules). Target: under 10 s over
100 schools (issue #18). The day previewed is fixed (1 September seven years after the benchmark's school year),
so every run measures the same rows whatever the date.

Usage: python bench/retention_preview.py [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from django.db import connection  # noqa: E402

from bench.figures import emit  # noqa: E402
from bench.ingest import BENCH_YEAR  # noqa: E402
from steward.mis.models import SessionAttendance  # noqa: E402
from steward.retention.selectors import retention_preview  # noqa: E402
from steward.tenancy.models import Organisation  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402

TARGET_SECONDS = 10.0
PREVIEW_DAY = dt.date(BENCH_YEAR + 7, 9, 1)


def time_baseline(schools: list[Organisation]) -> float:
    table = SessionAttendance._meta.db_table
    start = time.perf_counter()
    with tenant_scope([s.id for s in schools]), connection.cursor() as cursor:
        cursor.execute(f"SELECT school_id, count(*) FROM {table} GROUP BY school_id")  # noqa: S608
        cursor.fetchall()
    return time.perf_counter() - start


def time_preview(schools: list[Organisation]) -> tuple[float, int, int]:
    """Seconds, targets found and rows due of one preview over every school (and the processor's data)."""
    start = time.perf_counter()
    due = retention_preview(today=PREVIEW_DAY, schools=schools, processor_wide=True)
    seconds = time.perf_counter() - start
    return seconds, len(due), sum(d.rows for d in due)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("urn"))
    if not schools:
        sys.exit("no schools: run bench/ingest.py first")
    time_baseline(schools)  # warm the cache for both
    time_preview(schools)
    base_s = statistics.median(time_baseline(schools) for _ in range(args.runs))
    runs = [time_preview(schools) for _ in range(args.runs)]
    preview_s = statistics.median(s for s, _, _ in runs)
    _, targets, rows = runs[-1]
    verdict = "met" if preview_s < TARGET_SECONDS else "NOT met"
    print()
    print(f"{'measure (median of ' + str(args.runs) + ')':<60}{'seconds':>10}{'vs SELECT':>12}")
    print(f"{'SELECT count(*) of session attendance by school (baseline)':<60}{base_s:>10.3f}{1:>12.1f}")
    label = f"retention preview, {len(schools)} schools + processor data"
    print(f"{label:<60}{preview_s:>10.3f}{preview_s / base_s:>12.1f}")
    print(f"\n{targets} targets with rows or holds; {rows:,} rows due on {PREVIEW_DAY:%d %B %Y}")
    print(f"target: preview < {TARGET_SECONDS:.0f} s over every school: {preview_s:.2f} s ({verdict})")
    emit(
        "retention_preview", schools=len(schools), preview_seconds=round(preview_s, 3), select_seconds=round(base_s, 4)
    )


if __name__ == "__main__":
    main()
