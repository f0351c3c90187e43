"""Scheduled work, declared in one place. Times are wall-clock times in `settings.TIME_ZONE`.

A runner calls `due(now)` once a minute and enqueues each entry's task with its arguments.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.utils import timezone


class Entry(NamedTuple):
    when: str  # "daily" or "weekly <day name>"
    at: str  # "HH:MM", local time
    task: str  # dotted path of a django-tasks Task
    kwargs: dict[str, Any]


SCHEDULE: list[Entry] = [
    Entry("daily", "02:00", "steward.sharing.tasks.deliver_due_flows", {"frequency": "daily"}),
    Entry("weekly sunday", "03:00", "steward.sharing.tasks.deliver_due_flows", {"frequency": "weekly"}),
    Entry("daily", "01:30", "steward.retention.tasks.retention_sweep_task", {}),
    # Backups (issue #17): nightly after the retention sweep, so the copy holds what the sweep left;
    # the newest unverified copy restored and checked weekly, on Sunday before anyone needs it.
    Entry("daily", "02:30", "steward.retention.tasks.backup_create_task", {}),
    Entry("weekly sunday", "03:30", "steward.retention.tasks.backup_verify_task", {}),
    Entry("daily", "01:15", "steward.retention.tasks.backup_expire_task", {}),
    Entry("daily", "07:00", "steward.rights.tasks.send_rights_reminders", {}),
    Entry("daily", "04:00", "steward.core.tasks.sweep_rate_limits", {}),
    Entry("daily", "05:00", "steward.provisioning.tasks.provision_nightly", {}),
    # Sessions: expired Django sessions, and session records past their retention (signins.privacy).
    Entry("daily", "03:45", "steward.signins.tasks.sweep_sessions_task", {}),
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


def run_due(now: dt.datetime) -> list[Entry]:
    """Enqueue every entry due in `now`'s minute (the scheduler calls this once a minute)."""
    from django.utils.module_loading import import_string

    entries = due(now)
    for entry in entries:
        import_string(entry.task).enqueue(**entry.kwargs)
    return entries
