"""Core's tables: the counters of `core.ratelimit`, and the worker leases and scheduled runs that let
several workers and schedulers share one database (`core.workers`, `core.schedule`)."""

from __future__ import annotations

from django.db import models

from steward.core.classification import NoPersonalData, PersonalData


class RateLimitCounter(models.Model):
    """How often something was tried in the current window, for one rule and one key (an address,
    an account, an API client). One row per rule and key, updated in place by one SQL upsert, so
    every gunicorn worker counts into the same row; the row is useless once the window has ended
    and `ratelimit.sweep` deletes it.

    The key is stored only as an HMAC (with SECRET_KEY) of the rule and the address or account it
    counts, so a copy of the table does not list who tried to sign in from where."""

    key = models.CharField(primary_key=True, max_length=64)
    window_ends_at = models.DateTimeField(db_index=True)
    hits = models.IntegerField()

    privacy = PersonalData(
        subject="school_user",
        fields={"key": "school_user.sign_in"},
        not_personal={"window_ends_at", "hits"},
    )

    def __str__(self) -> str:
        return f"{self.hits} until {self.window_ends_at:%H:%M:%S}"


class WorkerLease(models.Model):
    """One running `steward worker` process, on any machine. The worker inserts its row when it starts,
    moves `heartbeat_at` (the database's clock, so machines' clocks never matter) every quarter lease,
    and deletes it when it stops. The id is the worker id django-tasks-db appends to a task's
    `worker_ids` when it claims one, so a RUNNING task's last worker id names the lease that runs it;
    `workers.requeue_lost` puts back the tasks whose lease has gone quiet, and deletes the lease."""

    id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)

    privacy = NoPersonalData("a worker process: its machine's name, process id and heartbeat")

    def __str__(self) -> str:
        return f"worker {self.host}:{self.pid}"


class ScheduledRun(models.Model):
    """A slot of `core.schedule` (an entry's task and arguments, at its minute) that some scheduler has
    enqueued. The unique constraint is what makes a slot run once however many schedulers run: each
    inserts the slot with ON CONFLICT DO NOTHING and enqueues only what it inserted, in one transaction
    with the enqueue. Rows older than a week are deleted by the schedulers themselves."""

    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    due_at = models.DateTimeField(db_index=True)
    enqueued_at = models.DateTimeField()

    privacy = NoPersonalData("a scheduled task's name, arguments and minute")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "kwargs", "due_at"], name="core_scheduled_run_once")]

    def __str__(self) -> str:
        return f"{self.task} at {self.due_at:%Y-%m-%d %H:%M}"
