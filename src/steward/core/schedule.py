"""Scheduled work, declared in one place. Times are wall-clock times in `settings.TIME_ZONE`.

Every `steward scheduler` calls `run_due(now)` once a minute; each slot (an entry at its minute) is
enqueued once however many schedulers run (`ScheduledRun`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone


class Entry(NamedTuple):
    when: str  # "daily" or "weekly <day name>"
    at: str  # "HH:MM", local time
    task: str  # dotted path of a django-tasks Task
    kwargs: dict[str, Any]


WAL_SHIP = "steward.retention.tasks.backup_wal_ship_task"


def wal_ship_entries(archiving: bool) -> list[Entry]:
    """Every minute while the WAL is archived (STEWARD_WAL_ARCHIVE), nothing otherwise: a restore to a
    time reaches only as far as the WAL shipped, so at most a minute (plus archive_timeout) is lost."""
    if not archiving:
        return []
    return [Entry("daily", f"{hour:02d}:{minute:02d}", WAL_SHIP, {}) for hour in range(24) for minute in range(60)]


SCHEDULE: list[Entry] = [
    Entry("daily", "02:00", "steward.sharing.tasks.deliver_due_flows", {"frequency": "daily"}),
    Entry("weekly sunday", "03:00", "steward.sharing.tasks.deliver_due_flows", {"frequency": "weekly"}),
    Entry("daily", "01:30", "steward.retention.tasks.retention_sweep_task", {}),
    # Backups (issue #17): nightly after the retention sweep, so the copy holds what the sweep left;
    # the newest unverified copy restored and checked weekly, on Sunday before anyone needs it.
    Entry("daily", "02:30", "steward.retention.tasks.backup_create_task", {}),
    Entry("weekly sunday", "03:30", "steward.retention.tasks.backup_verify_task", {}),
    Entry("daily", "01:15", "steward.retention.tasks.backup_expire_task", {}),
    *wal_ship_entries(settings.STEWARD_WAL_ARCHIVE),
    Entry("daily", "07:00", "steward.rights.tasks.send_rights_reminders", {}),
    Entry("daily", "04:00", "steward.core.tasks.sweep_rate_limits", {}),
    Entry("daily", "05:00", "steward.provisioning.tasks.provision_nightly", {}),
    # Sessions: expired Django sessions, and session records past their retention (signins.privacy).
    Entry("daily", "03:45", "steward.signins.tasks.sweep_sessions_task", {}),
    # OAuth credentials past their use (expired tokens and codes name whom they were issued to).
    Entry("daily", "03:50", "steward.signins.tasks.sweep_tokens_task", {}),
    # Finished background tasks' rows past their keeping (core.workers.prune_task_results).
    Entry("daily", "04:05", "steward.core.tasks.prune_task_results", {}),
    # Support access: lapse unanswered requests, record grants past their time and send the schools
    # their read lists (the database closes a grant by itself at its time; this records and tells).
    # Monitoring: a detection pass over the audit events written since the last (issue #16).
    *(
        Entry("daily", f"{hour:02d}:{minute:02d}", "steward.monitoring.tasks.detect_task", {})
        for hour in range(24)
        for minute in range(2, 60, 5)
    ),
    # The audit chains' heads sealed in the chain of no school (a school's newest events cannot be
    # dropped unseen once sealed): every five minutes.
    *(
        Entry("daily", f"{hour:02d}:{minute:02d}", "steward.audit.tasks.seal_task", {})
        for hour in range(24)
        for minute in range(4, 60, 5)
    ),
    *(
        Entry("daily", f"{hour:02d}:{minute:02d}", "steward.servicedesk.tasks.support_access_sweep", {})
        for hour in range(24)
        for minute in (5, 20, 35, 50)
    ),
]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def due(now: dt.datetime, schedule: list[Entry] = SCHEDULE) -> list[Entry]:
    """The entries whose slot is the minute `now` falls in (local time)."""
    if timezone.is_naive(now):
        raise ValueError("due() needs an aware datetime")
    local = timezone.localtime(now)
    return [e for e in schedule if e.at == local.strftime("%H:%M") and _on_day(e.when, local.date())]


def _on_day(when: str, day: dt.date) -> bool:
    if when == "daily":
        return True
    kind, _, weekday = when.partition(" ")
    if kind != "weekly" or weekday not in _DAYS:
        raise ValueError(f"unknown schedule {when!r}: use 'daily' or 'weekly <day>'")
    return _DAYS.index(weekday) == day.weekday()


# Each due entry's slot, inserted unless some scheduler already did: the rows returned are this
# scheduler's to enqueue. Set-based: one statement for the minute's entries.
_CLAIM_SLOTS = """
INSERT INTO core_scheduledrun (task, kwargs, due_at, enqueued_at)
SELECT slot.task, slot.kwargs::jsonb, %s, now() FROM unnest(%s::text[], %s::text[]) AS slot (task, kwargs)
ON CONFLICT (task, kwargs, due_at) DO NOTHING
RETURNING task, kwargs::text
"""

# Slots are kept a week (a scheduler's clock or a restart never reaches further back), then deleted.
SLOTS_KEPT = dt.timedelta(days=7)


def run_due(now: dt.datetime, schedule: list[Entry] = SCHEDULE) -> list[Entry]:
    """Enqueue every entry due in `now`'s minute that no other scheduler has enqueued; returns those.

    Every scheduler calls this once a minute. The slot (task, arguments, minute) is inserted into
    `core_scheduledrun` ON CONFLICT DO NOTHING, and the task enqueued, in one transaction: a slot is
    enqueued once however many schedulers run, and a scheduler that fails between the two leaves no
    slot behind for the others to skip (the tasks go into the same database, django-tasks-db)."""
    import json

    from django.db import connection, transaction
    from django.utils.module_loading import import_string

    entries = due(now, schedule)
    if not entries:
        return []
    minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    tasks = [e.task for e in entries]
    kwargs = [json.dumps(e.kwargs, sort_keys=True) for e in entries]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SLOTS, [minute, tasks, kwargs])
        claimed = {(task, json.dumps(json.loads(args), sort_keys=True)) for task, args in cursor.fetchall()}
        mine = [e for e, args in zip(entries, kwargs, strict=True) if (e.task, args) in claimed]
        for entry in mine:
            import_string(entry.task).enqueue(**entry.kwargs)
        cursor.execute("DELETE FROM core_scheduledrun WHERE due_at < %s", [minute - SLOTS_KEPT])
    return mine
