"""Background work of the portal: notifying parents after a batch commits."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from steward.portal.notify import KIND_RECORD_TYPES, notify_new_records

NOTIFYING_RECORD_TYPES = frozenset(KIND_RECORD_TYPES.values())


@task()
def notify_batch_task(school_id: int, since: str) -> int:
    return len(notify_new_records(school_id, dt.datetime.fromisoformat(since)))


def batch_inserted_notifiable(counts: dict[str, dict[str, int]]) -> bool:
    return any(counts.get(t, {}).get("inserted", 0) for t in NOTIFYING_RECORD_TYPES)
