"""One machine-readable line per benchmark, so `bench/scale.py` can tabulate runs at several sizes.

Each benchmark still prints its own table for people; at its end it calls `emit`, which prints
`bench-figures: {json}` with its measured figures, its baseline of the same run, and the peak memory
(resident set) of its Python process, read from `resource.getrusage` (the server processes some
benchmarks start are not counted: it is the benchmark's own process that must stay flat).
"""

from __future__ import annotations

import json
import resource
import sys

PREFIX = "bench-figures: "


def peak_memory_mb() -> float:
    """The peak resident set of this process so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(bench: str, **figures: float | int | str | bool) -> None:
    """Print one benchmark's figures as a single JSON line (with the process's peak memory)."""
    line = {"bench": bench, **figures, "peak_memory_mb": round(peak_memory_mb(), 1)}
    print(PREFIX + json.dumps(line, sort_keys=True), flush=True)
    sys.stdout.flush()


def parse(output: str) -> list[dict[str, object]]:
    """Every `bench-figures` line of a benchmark's output, in order."""
    return [json.loads(line[len(PREFIX) :]) for line in output.splitlines() if line.startswith(PREFIX)]
