"""Many workers on one database: leases, heartbeats, and putting back the tasks of a dead worker.

django-tasks-db already claims a task with `SELECT ... FOR UPDATE SKIP LOCKED` and marks it RUNNING
in the same transaction, so two workers never start the same task. What it lacks is the other half:
a worker killed mid-task (`kill -9`, a machine lost, the OOM killer) leaves its task RUNNING for
ever. So each `steward worker` holds a lease (`WorkerLease`), its id being the worker id the claim
appends to the task's `worker_ids`; a thread moves the lease's heartbeat every quarter lease, and
every worker, at start and at each heartbeat, runs `requeue_lost`: a RUNNING task whose last worker
has no live lease goes back to READY, or, once it has been claimed `STEWARD_TASK_MAX_ATTEMPTS` times
(a task that kills its worker), to FAILED with the reason. All times are the database's `now()`, so
the machines' clocks never matter.

A worker that finds its own lease gone (another worker judged it dead and gave its task away), or
that could not heartbeat for a whole lease, stops at once (`os._exit`): the task is someone else's
now. A task can still run twice: its worker killed after the task's work committed but before the
task was marked done, or a worker stalled past its lease that finishes before its heartbeat notices.
That is why tasks must be safe to run again (DESIGN.md "Background work")."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django_tasks_db.management.commands.db_worker import Worker

if TYPE_CHECKING:
    from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# The exit status of a worker that stopped because it lost its lease (EX_TEMPFAIL: start it again).
LEASE_LOST_EXIT = 75


class WorkerLost(Exception):  # noqa: N818 - the name is what an operator reads on the failed task
    """The error recorded on a task given up because its worker died while running it, too often."""


def lease_seconds() -> float:
    return float(settings.STEWARD_WORKER_LEASE_SECONDS)


def register() -> str:
    """Start a lease for this process; its id is the worker id to claim tasks with."""
    lease_id = uuid.uuid4().hex
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_workerlease (id, host, pid, started_at, heartbeat_at) VALUES (%s, %s, %s, now(), now())",
            [lease_id, socket.gethostname()[:255], os.getpid()],
        )
    return lease_id


def heartbeat(lease_id: str) -> bool:
    """Move the lease on; False when it is gone (judged dead and its task given to another worker)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_workerlease SET heartbeat_at = now() WHERE id = %s", [lease_id])
        return bool(cursor.rowcount == 1)


def release(lease_id: str) -> None:
    """A worker stopping cleanly: its lease ends now, and anything it still held goes back at once."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_workerlease WHERE id = %s", [lease_id])
    requeue_lost()


# A RUNNING task is lost when the lease named by its last worker id is missing or quiet for a lease.
# One statement: the rows are locked SKIP LOCKED (a worker finishing one right now keeps it), put back
# to READY, or FAILED with the reason once the task has been claimed max_attempts times.
_REQUEUE_LOST = """
WITH lost AS (
    SELECT t.id, jsonb_array_length(t.worker_ids) AS attempts, t.worker_ids ->> -1 AS lease_id
    FROM django_tasks_database_dbtaskresult t
    WHERE t.status = 'RUNNING'
      AND NOT EXISTS (
          SELECT 1 FROM core_workerlease l
          WHERE l.id = t.worker_ids ->> -1 AND l.heartbeat_at >= now() - make_interval(secs => %(lease)s)
      )
    FOR UPDATE OF t SKIP LOCKED
), judged AS (
    SELECT lost.*, lost.attempts >= %(max_attempts)s AS give_up, l.host, l.pid, l.heartbeat_at
    FROM lost LEFT JOIN core_workerlease l ON l.id = lost.lease_id
)
UPDATE django_tasks_database_dbtaskresult t SET
    status = CASE WHEN judged.give_up THEN 'FAILED' ELSE 'READY' END,
    started_at = CASE WHEN judged.give_up THEN t.started_at END,
    finished_at = CASE WHEN judged.give_up THEN now() END,
    return_value = NULL,
    exception_class_path = CASE WHEN judged.give_up THEN %(error)s ELSE t.exception_class_path END,
    traceback = CASE WHEN judged.give_up THEN format(
        %(reason)s, judged.attempts, coalesce(judged.host || ':' || judged.pid, judged.lease_id),
        coalesce(judged.heartbeat_at::text, 'none left')
    ) ELSE t.traceback END
FROM judged
WHERE t.id = judged.id
RETURNING t.id::text, t.status, t.task_path
"""

_REASON = (
    "WorkerLost: the worker running this task died or stopped answering %s times (last: %s, last heartbeat "
    "%s); not retried again (STEWARD_TASK_MAX_ATTEMPTS). Tasks are safe to re-run: enqueue it again "
    "once the cause is found.\n"
)


def requeue_lost() -> tuple[int, int]:
    """Put back the tasks of dead workers; returns (put back, given up). Safe to run from every worker."""
    lease = lease_seconds()
    params: dict[str, str | int | float] = {
        "lease": lease,
        "max_attempts": int(settings.STEWARD_TASK_MAX_ATTEMPTS),
        "error": f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        "reason": _REASON,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_REQUEUE_LOST, params)
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM core_workerlease WHERE heartbeat_at < now() - make_interval(secs => %s)", [lease])
    requeued = [r for r in rows if r[1] == "READY"]
    failed = [r for r in rows if r[1] == "FAILED"]
    for task_id, _, task_path in requeued:
        logger.warning("task %s (%s) lost its worker: back in the queue", task_id, task_path)
    for task_id, _, task_path in failed:
        logger.error("task %s (%s) lost its worker too often: failed (WorkerLost)", task_id, task_path)
    return len(requeued), len(failed)


class Heartbeat(threading.Thread):
    """Keeps one lease alive and, at each beat, puts back the tasks of dead workers.

    Its own database connection (Django's are per thread), so a long task's transaction never delays
    a beat. Stops the whole process when the lease is lost (see the module docstring)."""

    def __init__(self, lease_id: str) -> None:
        super().__init__(name=f"heartbeat-{lease_id}", daemon=True)
        self.lease_id = lease_id
        self.every = max(lease_seconds() / 4, 0.1)
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=self.every + 5)

    def run(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._stopping.wait(self.every):
                try:
                    if not heartbeat(self.lease_id):
                        self._give_up("its lease was ended by another worker, which took its task")
                    last_beat = time.monotonic()
                    requeue_lost()
                except DatabaseError:
                    logger.warning("worker lease %s: heartbeat failed; retrying", self.lease_id, exc_info=True)
                    connection.close()
                if time.monotonic() - last_beat > lease_seconds():
                    self._give_up("it could not heartbeat for a whole lease, so its task may be another's now")
        finally:
            connection.close()

    def _give_up(self, why: str) -> None:
        _stop(self.lease_id, why)


def _stop(lease_id: str, why: str) -> None:
    logger.error("worker %s stops: %s", lease_id, why)
    logging.shutdown()
    os._exit(LEASE_LOST_EXIT)


class LeasedWorker(Worker):
    """django-tasks-db's worker loop, claiming with its lease id, that records a task's outcome only
    while its lease is still alive: a worker that stalled past its lease (and whose task another
    worker may be running now) stops instead of marking the task done or failed under the other."""

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        for name in ("set_successful", "set_failed"):
            setattr(db_task_result, name, self._fenced(getattr(db_task_result, name)))
        super().run_task(db_task_result)

    def _fenced(self, record: Callable[..., None]) -> Callable[..., None]:
        def fenced(*args: Any) -> None:
            if not heartbeat(self.worker_id):
                _stop(self.worker_id, "its lease was ended while it ran a task, which is another's now")
            record(*args)

        return fenced


# How long a finished task's row is kept: long enough to see last week's runs and failures on the
# database, not for ever (a minute's WAL shipping alone leaves 1,440 rows a day).
SUCCEEDED_KEPT = dt.timedelta(days=14)
FAILED_KEPT = dt.timedelta(days=90)


def prune_task_results(*, now: dt.datetime) -> tuple[int, int]:
    """Delete finished task rows past their keeping: successful ones after `SUCCEEDED_KEPT`, failed
    ones (kept longer, for whoever looks into them) after `FAILED_KEPT`. Tasks not finished are never
    touched. One DELETE each; returns (successful, failed) deleted."""
    from django_tasks_db.models import DBTaskResult

    results = DBTaskResult.objects
    succeeded, _ = results.successful().filter(finished_at__lt=now - SUCCEEDED_KEPT).delete()
    failed, _ = results.failed().filter(finished_at__lt=now - FAILED_KEPT).delete()
    return succeeded, failed
