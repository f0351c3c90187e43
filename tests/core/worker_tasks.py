"""Tasks the worker tests enqueue: each writes what it did to `test_worker_runs` (made by the test),
so a test sees how often, and by which worker process, each one ran."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from django.db import connection
from django_tasks import task


def _note(n: int, phase: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO test_worker_runs (n, pid, phase) VALUES (%s, %s, %s)", [n, os.getpid(), phase])


@task()
def record(n: int) -> int:
    """A short task: long enough (50 ms) that two workers share a queue of them."""
    time.sleep(0.05)
    _note(n, "ran")
    return n


@task()
def hold(n: int, release: str) -> int:
    """Starts, then waits for the file `release` to exist before it finishes: a task to kill a worker in."""
    _note(n, "started")
    while not Path(release).exists():
        time.sleep(0.05)
    _note(n, "finished")
    return n


@task()
def poison(n: int) -> None:
    """Kills the worker that runs it, as a task that exhausts memory or crashes the interpreter would."""
    _note(n, "started")
    os.kill(os.getpid(), signal.SIGKILL)


@task()
def outlived(n: int) -> int:
    """Ends its own worker's lease, as another worker does to one it judges dead, then returns at once:
    the stalled worker whose task was given away, finishing before its heartbeat notices."""
    _note(n, "started")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_workerlease WHERE pid = %s", [os.getpid()])
    return n
