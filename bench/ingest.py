"""Ingest benchmark: Steward's pipeline against raw COPY (the limit) and a naive ORM loop (the baseline).

Everything is measured in one run on the same rows of a synthetic local authority:
- raw COPY of each school's CSV files into bare copies of the `mis` tables that carry the same
  indexes and constraints;
- Steward full ingest (staging COPY, set-based checks, hash-gated merge, one transaction a school);
- the nightly delta: the same files again with 1 % of rows changed;
- Django ORM `save()` one row at a time over a sample of attendance rows.

Usage: python bench/ingest.py [--schools N] [--seed S] [--sample ROWS]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from bench.figures import emit  # noqa: E402
from steward.core import database  # noqa: E402
from steward.demo.synthetic import generate, make_delta  # noqa: E402
from steward.ingest.schema import spec_for  # noqa: E402
from steward.ingest.services import batch_ingest  # noqa: E402
from steward.mis.models import MODEL_BY_TYPE, SessionAttendance  # noqa: E402
from steward.tenancy import services as tenancy  # noqa: E402
from steward.tenancy.models import Organisation  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402

# One fixed school year, so that every run (on any day) measures the same rows.
BENCH_YEAR = 2025


def fresh_database() -> None:
    name = os.environ["STEWARD_DB_NAME"]
    for alias in ("default", "owner"):
        connections[alias].close()
    database.drop_database(name)
    call_command("setup", verbosity=0)


def create_schools(manifest: dict[str, Any]) -> dict[str, Organisation]:
    schools = {}
    for entry in manifest["schools"]:
        schools[str(entry["urn"])] = tenancy.school_create(
            name=entry["name"],
            urn=int(entry["urn"]),
            la_code=str(entry["la_code"]),
            establishment_number=str(entry["establishment_number"]),
            phase=entry.get("phase", "primary"),
        )
    return schools


def raw_copy(zips: list[Path]) -> tuple[int, float]:
    """COPY every CSV into bare tables like the real ones (same indexes and constraints)."""
    with connections["owner"].cursor() as wrapper:
        cursor = wrapper.cursor
        record_types = set()
        for path in zips:
            with zipfile.ZipFile(path) as archive:
                record_types |= {n.removesuffix(".csv") for n in archive.namelist()}
        for record_type in sorted(record_types):
            table = spec_for(record_type).table
            cursor.execute(f'DROP TABLE IF EXISTS "raw_{table}"')
            cursor.execute(f'CREATE TABLE "raw_{table}" (LIKE "{table}" INCLUDING ALL)')
            for column, default in (("content_hash", "''"), ("created_at", "now()"), ("updated_at", "now()")):
                cursor.execute(f'ALTER TABLE "raw_{table}" ALTER COLUMN {column} SET DEFAULT {default}')
        rows = 0
        started = time.perf_counter()
        for number, path in enumerate(zips, start=1):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    table = "raw_" + spec_for(name.removesuffix(".csv")).table
                    cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN school_id SET DEFAULT {number}')
                    spec = spec_for(name.removesuffix(".csv"))
                    keep_empty = [c.name for c in spec.columns if c.kind in ("text", "email") and not c.nullable]
                    with archive.open(name) as member:
                        rows += _copy_member(cursor, table, member, keep_empty, arrays=name == "special-needs.csv")
        elapsed = time.perf_counter() - started
        for record_type in record_types:
            cursor.execute(f'DROP TABLE "raw_{spec_for(record_type).table}"')
    return rows, elapsed


def _copy_member(cursor: Any, table: str, member: Any, keep_empty: list[str], *, arrays: bool) -> int:
    header = next(csv.reader([member.readline().decode("utf-8-sig")]))
    columns = ", ".join(f'"{c}"' for c in header)
    # Empty text cells are "" (not NULL) in the real tables too.
    not_null = ", ".join(f'"{c}"' for c in header if c in keep_empty)
    if not arrays:
        options = f"FORMAT csv, FORCE_NOT_NULL ({not_null})" if not_null else "FORMAT csv"
        with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN WITH ({options})') as copy:
            while chunk := member.read(1 << 20):
                copy.write(chunk)
        return int(cursor.rowcount)
    # need_types is `A|B` in the CSV; COPY's array syntax differs, so this one small file goes row by row.
    index = header.index("need_types")
    with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
        for row in csv.reader(io.TextIOWrapper(member, encoding="utf-8", newline="")):
            values: list[Any] = [v if (v or c in keep_empty) else None for c, v in zip(header, row, strict=True)]
            values[index] = row[index].split("|") if row[index] else []
            copy.write_row(values)
    return int(cursor.rowcount)


def steward_ingest(
    zips: list[Path], schools: dict[str, Organisation], *, mode: str = "full"
) -> tuple[int, float, dict[str, int]]:
    rows = 0
    totals = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    started = time.perf_counter()
    for path in zips:
        school = schools[path.name.split(".")[0]]
        with path.open("rb") as stream:
            batch = batch_ingest(
                school=school, stream=stream, format="csv-zip", mode=mode, sent_by="bench", filename=path.name
            ).batch
        for counts in batch.counts.values():
            for key in totals:
                totals[key] += counts.get(key, 0)
            rows += counts.get("inserted", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)
    return rows, time.perf_counter() - started, totals


def orm_loop(zip_path: Path, school: Organisation, sample: int) -> tuple[int, float]:
    """The baseline: one `Model(...).save()` per row, as a naive importer would."""
    with zipfile.ZipFile(zip_path) as archive, archive.open("session-attendance.csv") as member:
        reader = csv.DictReader(io.TextIOWrapper(member, encoding="utf-8"))
        rows = [next(reader) for _ in range(sample)]
    started = time.perf_counter()
    with tenant_scope([school.id]):
        for row in rows:
            SessionAttendance(
                school=school,
                source_id="orm:" + row["source_id"],
                learner_source_id=row["learner_source_id"],
                date=row["date"],
                session=row["session"],
                mark=row["mark"],
                minutes_late=int(row["minutes_late"]) if row.get("minutes_late") else None,
                comment=row.get("comment") or "",
                content_hash="",
            ).save()
    elapsed = time.perf_counter() - started
    with tenant_scope([school.id]):
        SessionAttendance.objects.filter(source_id__startswith="orm:").delete()
    return len(rows), elapsed


def changes_only(original: Path, changed: Path, out: Path) -> int:
    """A delta-mode batch holding only the rows that differ between two full files (what an MIS
    agent sends nightly when the MIS can export changes)."""
    rows = 0
    with (
        zipfile.ZipFile(original) as before,
        zipfile.ZipFile(changed) as after,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in after.namelist():
            old = before.read(name).decode().splitlines()
            new = after.read(name).decode().splitlines()
            differing = [line for line, was in zip(new[1:], old[1:], strict=True) if line != was]
            if differing:
                target.writestr(name, "\n".join([new[0], *differing]) + "\n")
                rows += len(differing)
    return rows


def nightly_files(zips: list[Path], work: Path, seed: int) -> tuple[list[Path], list[Path], int]:
    """For each school: the full file again with 1 % of rows changed (a resend), the changed rows
    alone (a delta batch), and how many rows changed in all."""
    resends, deltas, changed = [], [], 0
    for path in zips:
        urn = path.name.split(".")[0]
        resend, delta = work / f"{urn}.resend.zip", work / f"{urn}.delta.zip"
        changed += make_delta(path, resend, fraction=0.01, seed=seed)
        changes_only(path, resend, delta)
        resends.append(resend)
        deltas.append(delta)
    return resends, deltas, changed


def checkpoint() -> None:
    """Start each measurement with the previous one's writes flushed, so none pays for another."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("CHECKPOINT")


def changed_versions(schools: dict[str, Organisation], since: int) -> int:
    total = 0
    with tenant_scope([s.id for s in schools.values()]):
        for model in MODEL_BY_TYPE.values():
            total += model.objects.filter(change_version__gt=since).count()
    return total


def max_version() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT last_value FROM mis_change_version")
        return int(cursor.fetchone()[0])


def main(argv: list[str] | None = None) -> list[tuple[str, int, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=int, default=3000, help="rows for the ORM baseline")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    print(f"generating {args.schools} schools (seed {args.seed}) in {work} ...", flush=True)
    manifest = generate(work, schools=args.schools, seed=args.seed, formats={"csv"}, year=BENCH_YEAR, jobs=2)
    zips = sorted(work.glob("*.zip"))
    fresh_database()
    schools = create_schools(manifest)

    checkpoint()
    raw_rows, raw_seconds = raw_copy(zips)
    checkpoint()
    full_rows, full_seconds, full_counts = steward_ingest(zips, schools)
    resends, deltas, changed = nightly_files(zips, work, args.seed)
    checkpoint()
    before_delta = max_version()
    delta_rows, delta_seconds, delta_counts = steward_ingest(deltas, schools, mode="delta")
    bumped = changed_versions(schools, before_delta)
    # The same changes again inside full files: nothing new, so nothing may be re-versioned.
    checkpoint()
    before_resend = max_version()
    resend_rows, resend_seconds, resend_counts = steward_ingest(resends, schools)
    resend_bumped = changed_versions(schools, before_resend)
    checkpoint()
    orm_rows, orm_seconds = orm_loop(zips[0], schools[zips[0].name.split(".")[0]], args.sample)

    raw_rate, full_rate = raw_rows / raw_seconds, full_rows / full_seconds
    delta_rate, orm_rate = delta_rows / delta_seconds, orm_rows / orm_seconds
    resend_rate = resend_rows / resend_seconds
    print()
    print(f"{'measure':<44}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'vs COPY':>10}{'vs ORM':>10}")
    for label, rows, seconds, rate in (
        ("raw COPY into indexed copies (limit)", raw_rows, raw_seconds, raw_rate),
        ("Steward full ingest", full_rows, full_seconds, full_rate),
        ("Steward nightly delta (the 1 % that changed)", delta_rows, delta_seconds, delta_rate),
        ("Steward full resend, nothing new", resend_rows, resend_seconds, resend_rate),
        ("naive ORM save() loop (baseline)", orm_rows, orm_seconds, orm_rate),
    ):
        print(f"{label:<44}{rows:>12,}{seconds:>10.2f}{rate:>12,.0f}{rate / raw_rate:>10.2f}{rate / orm_rate:>10.1f}")
    print()
    print(f"full ingest counts: {full_counts}")
    print(f"nightly delta: {changed:,} rows changed; counts {delta_counts}; {bumped:,} rows got a new change version")
    print(f"full resend of the same data: counts {resend_counts}; {resend_bumped:,} rows got a new change version")
    speedup = full_seconds / delta_seconds
    print(
        f"targets: full >= 0.5x COPY: {full_rate / raw_rate:.2f}; full >= 20x ORM: {full_rate / orm_rate:.1f}; "
        f"1 % delta >= 10x faster than full: {speedup:.1f}x; only changed rows re-versioned: "
        f"{'yes' if bumped == delta_counts['updated'] + delta_counts['inserted'] and resend_bumped == 0 else 'NO'}"
    )
    emit(
        "ingest",
        schools=args.schools,
        full_rows=full_rows,
        full_seconds=round(full_seconds, 3),
        raw_copy_rows=raw_rows,
        raw_copy_seconds=round(raw_seconds, 3),
        delta_rows=delta_rows,
        delta_seconds=round(delta_seconds, 3),
        full_vs_copy=round(full_rate / raw_rate, 3),
        delta_speedup=round(speedup, 2),
        full_us_per_row=round(full_seconds / full_rows * 1e6, 3),
    )
    return [("full", full_rows, full_seconds), ("delta", delta_rows, delta_seconds)]


if __name__ == "__main__":
    main()
