"""Many workers and schedulers on one database: real `steward worker` / `steward scheduler` processes.

A task is run once however many workers take from the queue; a worker killed with `kill -9` mid-task
gives its task back once its lease lapses (short leases here: 2 s) and another finishes it once; a task
that kills every worker that runs it is failed after STEWARD_TASK_MAX_ATTEMPTS; a scheduled slot is
enqueued once however many schedulers run.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from django.test import override_settings
from django_tasks_db.models import DBTaskResult, get_date_max

from steward.core import database, workers
from steward.core.models import ScheduledRun, WorkerLease
from steward.core.schedule import Entry, due, run_due
from tests.conftest import TEST_DB

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
LEASE = "2"


class Process:
    """A `steward` command in its own process on the test database, its output kept in a file."""

    def __init__(self, *args: str, **env: str) -> None:
        self.log: IO[str] = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        environment = {
            **os.environ,
            "STEWARD_DB_NAME": TEST_DB,
            "STEWARD_CONN_MAX_AGE": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **env,
        }
        environment.pop("STEWARD_TESTING", None)  # the real (database) task backend, as in production
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "steward", *args],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()


@pytest.fixture
def runs_table(committed_db: None) -> Iterator[None]:
    """`test_worker_runs`: one row each time a test task (tests/core/worker_tasks.py) starts, runs or finishes."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("CREATE TABLE test_worker_runs (n int NOT NULL, pid int NOT NULL, phase text NOT NULL)")
        cursor.execute(f"GRANT SELECT, INSERT ON test_worker_runs TO {database.APP_ROLE}")
    yield
    with connections["owner"].cursor() as cursor:
        cursor.execute("DROP TABLE test_worker_runs")


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(*args: str, **env: str) -> Process:
        started.append(Process(*args, **env))
        return started[-1]

    yield start
    for process in started:
        process.stop()
        process.log.close()


def _runs() -> list[tuple[int, int, str]]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT n, pid, phase FROM test_worker_runs ORDER BY n, phase")
        return [(n, pid, phase) for n, pid, phase in cursor.fetchall()]


def _enqueue(task: str, *kwargs: dict[str, Any]) -> list[str]:
    """Tasks enqueued as django-tasks-db does (this test process's own backend runs tasks at once)."""
    rows = DBTaskResult.objects.bulk_create(
        DBTaskResult(
            args_kwargs={"args": [], "kwargs": k},
            task_path=f"tests.core.worker_tasks.{task}",
            backend_name="default",
            queue_name="default",
            run_after=get_date_max(),
        )
        for k in kwargs
    )
    return [str(row.id) for row in rows]


def _wait_for(what: str, condition: Callable[[], bool], *watched: Process, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.popen.args}:\n{p.output()}" for p in watched)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


def _workers(processes: Callable[..., Process], count: int, **env: str) -> list[Process]:
    started = [processes("worker", STEWARD_WORKER_LEASE_SECONDS=LEASE, **env) for _ in range(count)]
    _wait_for(f"{count} worker leases", lambda: WorkerLease.objects.count() == count, *started)
    return started


def test_two_workers_drain_a_queue_running_each_task_exactly_once(
    runs_table: None, processes: Callable[..., Process]
) -> None:
    pair = _workers(processes, 2)
    ids = _enqueue("record", *({"n": n} for n in range(60)))

    done = DBTaskResult.objects.filter(id__in=ids, status="SUCCESSFUL")
    _wait_for("the queue to drain", lambda: done.count() == len(ids), *pair)

    runs = _runs()
    assert Counter(n for n, _, _ in runs) == Counter(range(60))  # each task ran once, none twice
    assert {pid for _, pid, _ in runs} == {p.pid for p in pair}  # and both workers took a share
    assert {len(w) for w in DBTaskResult.objects.filter(id__in=ids).values_list("worker_ids", flat=True)} == {1}
    assert [p.stop() for p in pair] == [0, 0]
    assert not WorkerLease.objects.exists()  # a worker stopping cleanly ends its lease


def test_a_task_whose_worker_is_killed_is_finished_once_by_the_other(
    runs_table: None, processes: Callable[..., Process], tmp_path: Path
) -> None:
    pair = _workers(processes, 2)
    release = tmp_path / "release"
    [task_id] = _enqueue("hold", {"n": 1, "release": str(release)})
    _wait_for("the task to start", lambda: len(_runs()) == 1, *pair)
    [(_, victim_pid, _)] = _runs()
    victim = next(p for p in pair if p.pid == victim_pid)
    survivor = next(p for p in pair if p is not victim)

    time.sleep(2 * float(LEASE))  # two leases: a live worker's heartbeat keeps a long task its own
    assert _runs() == [(1, victim_pid, "started")]
    assert DBTaskResult.objects.get(id=task_id).status == "RUNNING"

    os.kill(victim_pid, signal.SIGKILL)
    assert victim.popen.wait(timeout=20) == -signal.SIGKILL
    release.touch()
    task = DBTaskResult.objects.filter(id=task_id)
    _wait_for("the survivor to finish the task", lambda: task.get().status == "SUCCESSFUL", survivor, seconds=30)

    assert _runs() == [(1, survivor.pid, "finished"), (1, victim_pid, "started"), (1, survivor.pid, "started")]
    victim_lease, survivor_lease = task.get().worker_ids
    assert list(WorkerLease.objects.values_list("id", "pid")) == [(survivor_lease, survivor.pid)]
    assert victim_lease != survivor_lease  # the dead worker's lease was ended when its task was put back
    assert "lost its worker: back in the queue" in survivor.output()


def test_a_task_that_kills_its_workers_is_failed_after_the_attempt_limit(
    runs_table: None, processes: Callable[..., Process]
) -> None:
    pair = _workers(processes, 2, STEWARD_TASK_MAX_ATTEMPTS="2")
    [task_id] = _enqueue("poison", {"n": 1})
    task = DBTaskResult.objects.filter(id=task_id)

    # The first to claim it dies; the other puts it back once the lease lapses, claims it, and dies too.
    _wait_for("both workers to die of it", lambda: all(p.popen.poll() is not None for p in pair), *pair)
    assert [p.popen.returncode for p in pair] == [-signal.SIGKILL] * 2
    assert sorted(pid for _, pid, _ in _runs()) == sorted(p.pid for p in pair)
    assert task.get().status == "RUNNING"

    with override_settings(STEWARD_WORKER_LEASE_SECONDS=float(LEASE), STEWARD_TASK_MAX_ATTEMPTS=2):
        _wait_for("the second lease to lapse", lambda: workers.requeue_lost() == (0, 1))  # as a third worker would
        assert workers.requeue_lost() == (0, 0)
    failed = task.get()
    assert failed.status == "FAILED"  # which no worker claims again
    assert failed.exception_class_path == "steward.core.workers.WorkerLost"
    assert failed.traceback.startswith("WorkerLost: the worker running this task died or stopped answering 2 times")
    assert failed.finished_at is not None
    assert not WorkerLease.objects.exists()  # both dead workers' leases ended


def test_a_worker_whose_lease_was_ended_mid_task_stops_without_recording_the_task(
    runs_table: None, processes: Callable[..., Process]
) -> None:
    [worker] = _workers(processes, 1)
    [task_id] = _enqueue("outlived", {"n": 1})

    assert worker.popen.wait(timeout=60) == workers.LEASE_LOST_EXIT, worker.output()
    assert _runs() == [(1, worker.pid, "started")]
    task = DBTaskResult.objects.get(id=task_id)
    assert (task.status, task.finished_at) == ("RUNNING", None)  # left for the lease's new holder
    with override_settings(STEWARD_WORKER_LEASE_SECONDS=float(LEASE)):
        assert workers.requeue_lost() == (1, 0)
    assert "stops: its lease was ended" in worker.output()  # by the fence (or, rarely first, the heartbeat)


def test_requeue_lost_puts_back_a_running_task_with_no_live_lease_and_leaves_a_live_ones_alone(
    committed_db: None,
) -> None:
    """The set-based requeue on its own, in this process: no worker, two RUNNING tasks, one lease alive."""
    live = workers.register()
    lost_id, kept_id = _enqueue("record", {"n": 1}, {"n": 2})
    DBTaskResult.objects.filter(id=lost_id).update(status="RUNNING", worker_ids=["gone"])
    DBTaskResult.objects.filter(id=kept_id).update(status="RUNNING", worker_ids=["gone", live])

    assert workers.requeue_lost() == (1, 0)

    statuses = {str(k): v for k, v in DBTaskResult.objects.values_list("id", "status")}
    assert statuses == {lost_id: "READY", kept_id: "RUNNING"}
    assert DBTaskResult.objects.get(id=lost_id).started_at is None
    assert workers.heartbeat(live)
    workers.release(live)
    assert not workers.heartbeat(live)  # a released lease is gone: a worker holding it would stop
    assert DBTaskResult.objects.get(id=kept_id).status == "READY"  # released: what it held goes back


def test_schedulers_racing_for_the_same_minute_enqueue_each_slot_once(
    committed_db: None, processes: Callable[..., Process]
) -> None:
    """Two real schedulers asked for the same minute at once (the Sunday 03:00 slot: the weekly deliveries)."""
    at = "2026-11-29T03:00:00+00:00"
    expected = due(dt.datetime.fromisoformat(at))
    assert expected, "the schedule has something at this minute"
    pair = [processes("scheduler", "--at", at) for _ in range(2)]
    assert [p.popen.wait(timeout=120) for p in pair] == [0, 0], [p.output() for p in pair]

    lines = [line for p in pair for line in p.output().splitlines() if line.startswith("enqueued ")]
    assert sorted(lines) == sorted(f"enqueued {e.task} {e.kwargs}" for e in expected)
    queued = DBTaskResult.objects.values_list("task_path", "args_kwargs")
    assert sorted(queued, key=str) == sorted(((e.task, {"args": [], "kwargs": e.kwargs}) for e in expected), key=str)
    assert ScheduledRun.objects.count() == len(expected)


@pytest.mark.usefixtures("runs_table")
def test_two_scheduler_threads_with_their_own_connections_run_a_slot_once_and_keep_slots_a_week() -> None:
    schedule = [Entry("daily", "09:00", "tests.core.worker_tasks.record", {"n": 7})]
    nine = dt.datetime(2026, 3, 2, 9, 0, 20, tzinfo=LONDON)
    start = threading.Barrier(2)
    results: list[list[Entry]] = []

    def scheduler() -> None:
        try:
            start.wait()
            results.append(run_due(nine, schedule))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results, key=len) == [[], schedule]
    assert [n for n, _, _ in _runs()] == [7]  # this process's backend runs the task when it is enqueued
    assert run_due(nine + dt.timedelta(seconds=30), schedule) == []  # the same minute again: nothing
    assert run_due(nine + dt.timedelta(days=8), schedule) == schedule  # a later day is a new slot
    assert list(ScheduledRun.objects.values_list("due_at", flat=True)) == [
        (nine + dt.timedelta(days=8)).replace(second=0)
    ]  # and slots older than a week are gone
    assert [n for n, _, _ in _runs()] == [7, 7]


def test_a_lease_setting_that_is_not_a_number_is_refused_by_name() -> None:
    env = {**os.environ, "STEWARD_WORKER_LEASE_SECONDS": "a minute"}
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "steward", "check"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "STEWARD_WORKER_LEASE_SECONDS: 'a minute' is not a positive float" in result.stderr


@pytest.mark.django_db
def test_finished_task_rows_are_pruned_after_their_keeping_and_nothing_else() -> None:
    """Successful rows after 14 days, failed ones after 90; ready and running rows never, however old."""
    now = dt.datetime(2027, 1, 4, 4, 5, tzinfo=dt.UTC)  # a Monday after the New Year holiday
    ids = dict(
        zip(
            ["old_ok", "new_ok", "old_failed", "newer_failed", "ready", "running"],
            _enqueue("record", *({"n": n} for n in range(6))),
            strict=True,
        )
    )
    finished = {
        "old_ok": ("SUCCESSFUL", workers.SUCCEEDED_KEPT + dt.timedelta(minutes=1)),
        "new_ok": ("SUCCESSFUL", workers.SUCCEEDED_KEPT - dt.timedelta(minutes=1)),
        "old_failed": ("FAILED", workers.FAILED_KEPT + dt.timedelta(minutes=1)),
        "newer_failed": ("FAILED", workers.SUCCEEDED_KEPT + dt.timedelta(days=30)),
    }
    for name, (status, age) in finished.items():
        DBTaskResult.objects.filter(id=ids[name]).update(status=status, finished_at=now - age)
    DBTaskResult.objects.filter(id=ids["running"]).update(status="RUNNING", started_at=now - dt.timedelta(days=400))

    assert workers.prune_task_results(now=now) == (1, 1)
    left = {str(i) for i in DBTaskResult.objects.values_list("id", flat=True)}
    assert left == {ids[n] for n in ("new_ok", "newer_failed", "ready", "running")}
    assert workers.prune_task_results(now=now) == (0, 0)  # idempotent
    assert "steward.core.tasks.prune_task_results" in {e.task for e in due(now)}  # daily, 04:05 here
