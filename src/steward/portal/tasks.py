"""Background work of the portal: notifying parents after a batch commits."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from steward.ingest.events import BatchApplied
from steward.portal.notify import KIND_RECORD_TYPES, notify_new_records

NOTIFYING_RECORD_TYPES = frozenset(KIND_RECORD_TYPES.values())


@task()
def notify_batch_task(school_id: int, since: str) -> int:
    return len(notify_new_records(school_id, dt.datetime.fromisoformat(since)))


def batch_inserted_notifiable(counts: dict[str, dict[str, int]]) -> bool:
    return any(counts.get(t, {}).get("inserted", 0) for t in NOTIFYING_RECORD_TYPES)


def on_batch_applied(event: BatchApplied) -> None:
    """Subscribed after commit: new homework, behaviour, achievement and attendance rows notify
    parents once the task can see them; the rows inserted carry the batch's `merged_at`."""
    if batch_inserted_notifiable(event.counts):
        notify_batch_task.enqueue(event.school_id, event.merged_at.isoformat())
