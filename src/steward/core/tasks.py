"""Core's background work: deleting rate-limit counters whose window has ended, and finished task rows
past their keeping."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from steward.core import ratelimit, workers


@task()
def sweep_rate_limits() -> int:
    """Idempotent: deletes only counters that no longer refuse anything."""
    return ratelimit.sweep()


@task()
def prune_task_results() -> list[int]:
    """Idempotent: a second run finds nothing past its keeping. Returns [successful, failed] deleted."""
    return list(workers.prune_task_results(now=timezone.now()))
