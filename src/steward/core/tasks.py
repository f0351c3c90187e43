"""Core's background work: deleting rate-limit counters whose window has ended."""

from __future__ import annotations

from django_tasks import task

from steward.core import ratelimit


@task()
def sweep_rate_limits() -> int:
    """Idempotent: deletes only counters that no longer refuse anything."""
    return ratelimit.sweep()
