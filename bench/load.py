"""Closed-loop HTTP load for the benchmarks: N clients, each with its own cookies, each sending its
next request as soon as the last one answered, for a fixed time. No Django here, so it can be
tested without a database.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass
class Sample:
    page: str
    seconds: float
    ok: bool


@dataclass
class Summary:
    requests: int
    errors: int
    seconds: float
    p50: float  # milliseconds
    p95: float
    p99: float
    per_page: dict[str, float] = field(default_factory=dict)  # page -> p95 in milliseconds

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentiles(latencies: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds (inclusive method: no
    extrapolation beyond the slowest request)."""
    if not latencies:
        return (0.0, 0.0, 0.0)
    if len(latencies) == 1:
        only = latencies[0] * 1000
        return (only, only, only)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return (cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000)


def summarise(samples: Sequence[Sample], seconds: float) -> Summary:
    p50, p95, p99 = percentiles([s.seconds for s in samples])
    pages: dict[str, list[float]] = {}
    for sample in samples:
        pages.setdefault(sample.page, []).append(sample.seconds)
    return Summary(
        requests=len(samples),
        errors=sum(not s.ok for s in samples),
        seconds=seconds,
        p50=p50,
        p95=p95,
        p99=p99,
        per_page={page: percentiles(times)[1] for page, times in pages.items()},
    )


CHILD_LINK = re.compile(r'href="/portal/children/(\d+)/"')


def child_ids(page: str) -> list[int]:
    """The children a parent's home page links to, in page order, once each."""
    return list(dict.fromkeys(int(found) for found in CHILD_LINK.findall(page)))


def run_load(
    clients: Sequence[httpx.Client],
    pages_for: Callable[[int], Sequence[tuple[str, str]]],
    *,
    seconds: float,
    warmup: float = 0.0,
    think: float = 0.0,
) -> Summary:
    """Every client loops over its `(label, path)` pages until the time is up (pausing a random
    `think` time between pages, if given); requests that start
    during the warm-up are not counted. A non-200 answer or a transport error counts as an error."""
    samples: list[list[Sample]] = [[] for _ in clients]
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    barrier = threading.Barrier(len(clients))

    def loop(number: int) -> None:
        client, pages, mine = clients[number], pages_for(number), samples[number]
        pause = random.Random(number)
        barrier.wait()
        step = number  # clients start at different pages, so the mix is even from the first second
        while (began := time.perf_counter()) < stop:
            label, path = pages[step % len(pages)]
            step += 1
            try:
                ok = client.get(path).status_code == 200
            except httpx.HTTPError:
                ok = False
            if began >= measure_from:
                mine.append(Sample(label, time.perf_counter() - began, ok))
            if think:  # a person reads the page before the next click: exponential, mean `think` seconds
                time.sleep(max(0.0, min(pause.expovariate(1 / think), stop - time.perf_counter())))

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = time.perf_counter() - measure_from
    return summarise([s for mine in samples for s in mine], measured)
