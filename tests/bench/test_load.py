"""The portal benchmark's load helpers (bench/load.py): percentiles, the summary and the child links.

No server and no timing assertions: the benchmark itself is `make bench`.
"""

from __future__ import annotations

import pytest
from bench.load import Sample, child_ids, percentiles, summarise


def test_percentiles_are_in_milliseconds_and_never_beyond_the_slowest() -> None:
    latencies = [n / 1000 for n in range(1, 101)]  # 1 ms .. 100 ms
    p50, p95, p99 = percentiles(latencies)
    assert p50 == pytest.approx(50.5)
    assert p95 == pytest.approx(95.05)
    assert p99 == pytest.approx(99.01)
    assert percentiles([0.25]) == (250.0, 250.0, 250.0)
    assert percentiles([]) == (0.0, 0.0, 0.0)


def test_summary_counts_errors_and_gives_each_page_its_p95() -> None:
    samples = [Sample("home", 0.010, True)] * 10 + [Sample("homework", 0.030, True)] * 9
    samples.append(Sample("homework", 0.030, False))
    summary = summarise(samples, seconds=2.0)
    assert (summary.requests, summary.errors, summary.rate) == (20, 1, 10.0)
    assert summary.per_page == {"home": pytest.approx(10.0), "homework": pytest.approx(30.0)}


def test_child_ids_are_read_once_each_in_page_order() -> None:
    page = (
        '<a class="govuk-link" href="/portal/children/12/">Sam</a>'
        '<a href="/portal/children/7/">Priya</a><a href="/portal/children/12/">Sam again</a>'
        '<a href="/portal/children/7/homework/">not a child link</a>'
    )
    assert child_ids(page) == [12, 7]
