"""The nightly retention sweep, as a background task (scheduled in `core/schedule.py`)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from steward.retention import services
from steward.tenancy.models import Organisation


@task()
def retention_sweep_task() -> int:
    """Idempotent: a second run the same night finds nothing due. Returns the rows deleted."""
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("id"))
    proofs = services.retention_sweep(today=timezone.localdate(), schools=schools)
    services.replay_prune(now=timezone.now())
    return sum(p.rows for p in proofs)
