"""`make bench-scale`: how each cost grows with the schools an ICT service hosts (issue #18).

For each size (6, 25 and 100 schools by default; 100 is about 30,000 learners and 12 M rows) the
benchmark LA is generated and loaded afresh by `bench/ingest.py`, then the sharing pull, the parent
portal, the subject-access bundle, the purge and the retention preview run on it, each in its own
process (so each one's peak memory is its own). Each benchmark prints a `bench-figures` line
(`bench/figures.py`); this script reads them and prints one table: every figure at every size, its
ratio to the same run's baseline, and the growth targets:

- per-row cost of ingest and of the delta pull at the largest size within 1.25 x the smallest's;
- peak memory of the ingest process flat (the largest size's within 1.25 x the smallest's);
- a retention preview over 100 schools in under 10 s;
- the whole run within 30 minutes.

Usage: python bench/scale.py [--sizes 6 25 100] [--portal-seconds 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import parse  # noqa: E402

BENCH = Path(__file__).resolve().parent
GROWTH_LIMIT = 1.25
PREVIEW_LIMIT_S = 10.0
WHOLE_RUN_LIMIT_S = 30 * 60

# (figure, its baseline in the same run or "", what it is, unit)
ROWS = [
    ("ingest.full_us_per_row", "", "full ingest, per row", "us"),
    ("ingest.full_vs_copy", "", "full ingest / raw COPY (rate)", "x"),
    ("ingest.delta_speedup", "", "1 % delta, times faster than full", "x"),
    ("ingest.peak_memory_mb", "", "ingest process peak memory", "MB"),
    ("sharing.pull_rate", "sharing.copy_to_rate", "delta pull, records/s (vs COPY TO)", "/s"),
    ("sharing.pull_us_per_row", "", "delta pull, per record", "us"),
    ("sharing.pull_p95_ms", "", "delta pull, p95 per 1,000-record page", "ms"),
    ("portal.portal_p95_ms", "portal.health_p95_ms", "portal p95 (vs health endpoint)", "ms"),
    ("rights.sar_seconds", "rights.select_seconds", "subject-access bundle (vs plain SELECT)", "s"),
    ("purge.purge_rate", "purge.delete_rate", "purge of the largest school, rows/s (vs DELETE)", "/s"),
    ("retention_preview.preview_seconds", "retention_preview.select_seconds", "retention preview (vs SELECT)", "s"),
]


def run(script: str, *args: str) -> tuple[list[dict[str, object]], float]:
    """Run one benchmark in its own process; its output is shown as it goes and its figures returned."""
    start = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own scripts, with arguments we built
        [sys.executable, str(BENCH / script), *args], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    seconds = time.perf_counter() - start
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        sys.exit(f"{script} failed (exit {proc.returncode}); see its output above")
    return parse(proc.stdout), seconds


def measure(schools: int, portal_seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """Every benchmark at one size: the figures by "bench.name", and the seconds each step took."""
    figures: dict[str, float] = {}
    steps: dict[str, float] = {}
    for script, args in (
        ("ingest.py", ["--schools", str(schools)]),
        ("sharing.py", []),
        ("portal.py", ["--seconds", f"{portal_seconds:g}", "--warmup", "2"]),
        ("rights.py", ["--runs", "3"]),
        ("purge.py", []),
        ("retention_preview.py", []),
    ):
        print(f"\n=== {schools} schools: {script} {' '.join(args)}", flush=True)
        lines, seconds = run(script, *args)
        steps[script] = seconds
        for line in lines:
            for key, value in line.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    figures[f"{line['bench']}.{key}"] = float(value)
    return figures, steps


def cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(sizes: list[int], results: dict[int, dict[str, float]]) -> None:
    head = f"{'figure':<50}{'unit':>5}" + "".join(f"{str(n) + ' schools':>16}{'vs base':>9}" for n in sizes)
    print("\n" + head)
    print("-" * len(head))
    for key, base, label, unit in ROWS:
        line = f"{label:<50}{unit:>5}"
        for n in sizes:
            value, baseline = results[n].get(key), results[n].get(base) if base else None
            ratio = f"{value / baseline:.2f}" if value is not None and baseline else ""
            line += f"{cell(value):>16}{ratio:>9}"
        print(line)
    rows = [results[n].get("ingest.full_rows") for n in sizes]
    print(f"{'MIS rows loaded':<50}{'':>5}" + "".join(f"{cell(r):>16}{'':>9}" for r in rows))


def growth(results: dict[int, dict[str, float]], key: str, small: int, large: int) -> float | None:
    a, b = results[small].get(key), results[large].get(key)
    return b / a if a and b is not None else None


# The speed targets each size is held to (issue #18): (figure, at least / below, the bound, what it is).
SPEED_TARGETS = [
    ("ingest.full_vs_copy", ">=", 0.5, "full ingest >= 0.5 x raw COPY"),
    ("ingest.delta_speedup", ">=", 10.0, "1 % delta >= 10 x faster than the full load"),
    ("sharing.pull_rate", ">=", 50_000.0, "delta pull >= 50,000 records/s"),
    ("sharing.pull_p95_ms", "<", 50.0, "delta pull p95 < 50 ms a 1,000-record page"),
    ("rights.sar_seconds", "<", 0.5, "subject-access bundle < 0.5 s"),
    ("rights.sar_data_seconds", "<", 0.1, "its JSON and HTML < 0.1 s"),
]


def speed_verdicts(sizes: list[int], results: dict[int, dict[str, float]]) -> None:
    """Each speed target at each size, "met" or "NOT met"."""
    print()
    for key, op, bound, label in SPEED_TARGETS:
        cells = []
        for n in sizes:
            value = results[n].get(key)
            met = value is not None and (value >= bound if op == ">=" else value < bound)
            cells.append(f"{n}: {cell(value)} ({'met' if met else 'NOT met'})")
        print(f"target: {label}: " + "; ".join(cells))


def verdicts(sizes: list[int], results: dict[int, dict[str, float]], whole_s: float) -> None:
    small, large = sizes[0], sizes[-1]
    speed_verdicts(sizes, results)
    print()
    for key, label in (
        ("ingest.full_us_per_row", "ingest per-row cost"),
        ("sharing.pull_us_per_row", "pull per-row cost"),
        ("ingest.peak_memory_mb", "ingest peak memory"),
    ):
        ratio = growth(results, key, small, large)
        shown = f"{ratio:.2f}" if ratio is not None else "not measured"
        met = "met" if ratio is not None and ratio <= GROWTH_LIMIT else "NOT met"
        print(f"target: {label} at {large} schools within {GROWTH_LIMIT} x its cost at {small}: {shown} ({met})")
    preview = results[large].get("retention_preview.preview_seconds")
    met = "met" if preview is not None and preview < PREVIEW_LIMIT_S else "NOT met"
    print(f"target: retention preview over {large} schools < {PREVIEW_LIMIT_S:.0f} s: {cell(preview)} s ({met})")
    met = "met" if whole_s < WHOLE_RUN_LIMIT_S else "NOT met"
    print(f"target: the whole run within {WHOLE_RUN_LIMIT_S // 60} minutes: {whole_s / 60:.1f} min ({met})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 25, 100])
    parser.add_argument("--portal-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        figures, steps = measure(n, args.portal_seconds)
        results[n] = figures
        print(
            f"\n{n} schools took {sum(steps.values()) / 60:.1f} min: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items())
        )
    whole = time.perf_counter() - start
    table(args.sizes, results)
    verdicts(args.sizes, results, whole)


if __name__ == "__main__":
    main()
