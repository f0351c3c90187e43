"""Purge benchmark: rows/s of a contract-termination purge of the largest school, against a plain DELETE.

Runs on the database `bench/ingest.py` loaded (run that first; `make bench` does). The purge
(`retention.termination.purge_rows`: every tenant table, children first, one transaction under
the school's tenant scope, then the verification COUNTs) runs on the school with the most rows;
the baseline, measured in the same run, is a single `DELETE` of that school's largest table (its
session attendance), the fastest way PostgreSQL can remove those rows. Both are rolled back, so
the benchmark LA is left as it was. Target: >= 200,000 rows/s.

Usage: python bench/purge.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from bench.figures import emit  # noqa: E402
from steward.mis.models import SessionAttendance  # noqa: E402
from steward.retention.termination import purge_rows, rows_left  # noqa: E402
from steward.tenancy.models import Organisation  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402

TABLE = SessionAttendance._meta.db_table


class _RollBack(Exception):
    """Raised at the end of a timed block so the benchmark LA is left untouched."""


def largest_school() -> Organisation:
    with connection.cursor() as cursor:
        ids = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).values_list("id", flat=True))
        with tenant_scope(ids):
            cursor.execute(f"SELECT school_id FROM {TABLE} GROUP BY school_id ORDER BY count(*) DESC LIMIT 1")  # noqa: S608
            row = cursor.fetchone()
    if row is None:
        sys.exit("no attendance: run bench/ingest.py first")
    return Organisation.objects.get(pk=row[0])


def baseline(school: Organisation) -> tuple[int, float]:
    rows, seconds = 0, 0.0
    try:
        with tenant_scope([school.id]), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(f"DELETE FROM {TABLE} WHERE school_id = %s", [school.id])  # noqa: S608
            rows, seconds = cursor.rowcount, time.perf_counter() - started
            raise _RollBack
    except _RollBack:
        pass
    return rows, seconds


def purge(school: Organisation) -> tuple[int, float, int]:
    rows, seconds, left = 0, 0.0, -1
    try:
        with tenant_scope([school.id]):
            started = time.perf_counter()
            deleted = purge_rows(school_id=school.id)
            left = sum(rows_left(school_id=school.id).values())
            rows, seconds = sum(deleted.values()), time.perf_counter() - started
            raise _RollBack
    except _RollBack:
        pass
    return rows, seconds, left


def main() -> None:
    school = largest_school()
    base_rows, base_seconds = baseline(school)
    rows, seconds, left = purge(school)
    assert not transaction.get_connection().in_atomic_block  # noqa: S101 - both rolled back
    base_rate, rate = base_rows / base_seconds, rows / seconds
    print()
    print(f"school: {school.name} (URN {school.urn})")
    print(f"{'measure':<58}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'vs DELETE':>11}")
    label = f"one DELETE of the school's {TABLE} (baseline)"
    print(f"{label:<58}{base_rows:>12,}{base_seconds:>10.2f}{base_rate:>12,.0f}{1:>11.2f}")
    label = "purge: every tenant table + shared rows, verified"
    print(f"{label:<58}{rows:>12,}{seconds:>10.2f}{rate:>12,.0f}{rate / base_rate:>11.2f}")
    print(f"\nrows left after the purge (verification): {left}")
    print(f"target: >= 200,000 rows/s: {rate:,.0f}")
    emit(
        "purge", purge_rows=rows, purge_seconds=round(seconds, 3), purge_rate=round(rate), delete_rate=round(base_rate)
    )


if __name__ == "__main__":
    main()
