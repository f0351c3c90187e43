"""The nightly retention sweep, as a background task (scheduled in `core/schedule.py`)."""

from __future__ import annotations

import logging

from django.utils import timezone
from django_tasks import task

from steward.retention import services
from steward.tenancy.models import Organisation

logger = logging.getLogger(__name__)


@task()
def retention_sweep_task() -> int:
    """Idempotent: a second run the same night finds nothing due. Returns the rows deleted."""
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("id"))
    proofs = services.retention_sweep(today=timezone.localdate(), schools=schools)
    services.replay_prune(now=timezone.now())
    return sum(p.rows for p in proofs)


@task()
def backup_create_task() -> int:
    """The nightly backup (`steward backup create`); a failure emails the processor's admins and fails."""
    from steward.retention.backups.scheduled import scheduled_create

    return scheduled_create().pk


@task()
def backup_verify_task() -> str:
    """The weekly verify of the newest unverified backup (with the key only if one is configured)."""
    from steward.retention.backups.scheduled import scheduled_verify

    result = scheduled_verify()
    return str(result.get("note") or f"backup {result['verified']} verified")


@task()
def backup_expire_task() -> int:
    """Delete backups past the register's period (a held school's are kept); returns the copies deleted.

    Scheduled before the sweep (01:15, 01:30): its replay pruning then no longer waits for the copies deleted here."""
    from steward.retention.backups.expire import backup_expire

    result = backup_expire(now=timezone.now())
    if result.incomplete:
        logger.warning("aborted %d incomplete backup upload(s) left by killed runs: %s", len(result.incomplete),
                       ", ".join(result.incomplete))  # fmt: skip
    return len(result.deleted)


@task()
def backup_wal_ship_task() -> int:
    """Every minute while STEWARD_WAL_ARCHIVE is on: the spooled WAL segments to the backup location."""
    from steward.retention.backups.scheduled import scheduled_wal_ship

    return scheduled_wal_ship()
