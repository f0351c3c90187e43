"""Where an ingest's time goes: each step of the pipeline timed, against raw COPY of the same rows.

`bench/ingest.py` says how fast an ingest is; this says what bounds it (issue #18 asks for the
profile behind a missed target). The benchmark LA is generated and loaded into a database of its
own (`steward_profile`), raw COPY into indexed copies of the tables is measured first, then a full
load, a nightly delta (1 % changed) and a full resend of unchanged files run with every step of
`ingest.services.batch_ingest` timed: reading the file, staging (COPY into the temporary tables,
with the content hash), statistics of the staged rows, finding what changed, the set-based checks,
the merge, the tombstones of what a full batch omits, and the rest (the batch row, the audit event,
the event, commit). Each step is printed in seconds, as a share of the whole and per row.

Usage: python bench/ingest_profile.py [--schools N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_profile")

from bench.figures import emit  # noqa: E402
from bench.ingest import (  # noqa: E402  (sets Django up)
    BENCH_YEAR,
    checkpoint,
    create_schools,
    fresh_database,
    nightly_files,
    raw_copy,
    steward_ingest,
)
from steward.demo.synthetic import generate  # noqa: E402
from steward.ingest import merge, services, staging  # noqa: E402

# (module, attribute, step name): the steps of one batch, in the order they run.
STEPS: list[tuple[Any, str, str]] = [
    (services, "file_sha256", "hash the file (SHA-256, duplicate check)"),
    (services, "read_batch", "open the file (zip directory, CSV headers)"),
    (staging, "analyze_if_large", "statistics of the staged rows (ANALYZE)"),
    (staging, "stage_csv", "stage: COPY into temp tables, content hash"),
    (merge, "find_changed", "find what is new or changed"),
    (services, "validate", "set-based checks of new and changed rows"),
    (merge, "merge_table", "merge into the mis tables (INSERT / upsert)"),
    (merge, "tombstone_missing", "tombstone what a full batch omits"),
    (merge, "cascade_dangling", "remove records left dangling"),
    (services, "_audit", "audit event"),
]


@contextmanager
def timed_steps() -> Iterator[dict[str, float]]:
    """Wrap each step's function so its own time is summed while the block runs."""
    totals: dict[str, float] = defaultdict(float)
    originals = []
    for module, attribute, _ in STEPS:
        original = getattr(module, attribute)
        originals.append((module, attribute, original))
        setattr(module, attribute, _timer(original, attribute, totals))
    try:
        yield totals
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)


def _timer(function: Callable[..., Any], name: str, totals: dict[str, float]) -> Callable[..., Any]:
    """Each step's own time: a step timed inside another (ANALYZE inside staging) is taken out of it."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _RUNNING.append(0.0)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            inner = _RUNNING.pop()
            totals[name] += elapsed - inner
            if _RUNNING:
                _RUNNING[-1] += elapsed

    return wrapper


_RUNNING: list[float] = []  # for each timed step running, the time of the steps timed inside it


def report(label: str, rows: int, seconds: float, totals: dict[str, float], copy_seconds: float) -> dict[str, float]:
    """Print one run's steps (each its own time, without the steps timed inside it)."""
    own = dict(totals)
    steps = {attribute: own.get(attribute, 0.0) for _, attribute, _ in STEPS}
    steps["other"] = max(0.0, seconds - sum(steps.values()))
    names = {attribute: name for _, attribute, name in STEPS} | {"other": "the rest (batch row, event, commit)"}
    print(f"\n{label}: {rows:,} rows in {seconds:.2f} s ({seconds / rows * 1e6:.2f} us a row)")
    print(f"{'step':<50}{'seconds':>9}{'share':>8}{'us/row':>9}{'x COPY':>8}")
    for attribute, value in steps.items():
        print(
            f"{names[attribute]:<50}{value:>9.2f}{value / seconds:>8.0%}{value / rows * 1e6:>9.2f}"
            f"{value / copy_seconds:>8.2f}"
        )
    return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="steward-profile-"))
    manifest = generate(work, schools=args.schools, seed=args.seed, formats={"csv"}, year=BENCH_YEAR, jobs=2)
    zips = sorted(work.glob("*.zip"))
    fresh_database()
    schools = create_schools(manifest)
    checkpoint()
    copy_rows, copy_seconds = raw_copy(zips)
    print(
        f"raw COPY into indexed copies: {copy_rows:,} rows in {copy_seconds:.2f} s ({copy_rows / copy_seconds:,.0f}/s)"
    )
    checkpoint()
    with timed_steps() as totals:
        rows, seconds, _ = steward_ingest(zips, schools)
    full = report("full load", rows, seconds, totals, copy_seconds)
    resends, deltas, _ = nightly_files(zips, work, args.seed)
    checkpoint()
    with timed_steps() as totals:
        delta_rows, delta_seconds, _ = steward_ingest(deltas, schools, mode="delta")
    delta = report("nightly delta (1 % changed)", delta_rows, delta_seconds, totals, copy_seconds)
    print(f"  per batch: {delta_seconds / len(deltas) * 1000:.0f} ms for {delta_rows / len(deltas):,.0f} rows")
    checkpoint()
    with timed_steps() as totals:
        resend_rows, resend_seconds, _ = steward_ingest(resends, schools)
    report("full resend, 1 % changed", resend_rows, resend_seconds, totals, copy_seconds)
    print(
        f"\nfull ingest / raw COPY (rate): {copy_seconds / seconds:.2f}; "
        f"delta {seconds / delta_seconds:.1f} x faster than the full load"
    )
    emit(
        "ingest_profile",
        schools=args.schools,
        copy_seconds=round(copy_seconds, 3),
        full_seconds=round(seconds, 3),
        delta_seconds=round(delta_seconds, 3),
        **{f"full_{k}": round(v, 3) for k, v in full.items()},
        **{f"delta_{k}": round(v, 3) for k, v in delta.items()},
    )


if __name__ == "__main__":
    main()
