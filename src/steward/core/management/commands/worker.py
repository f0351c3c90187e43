"""`steward worker`: run background tasks (django-tasks-db's worker loop, under a lease).

Run as many as the work needs, on as many machines, against the one database: a task is claimed by
one worker only (django-tasks-db's `FOR UPDATE SKIP LOCKED`), and a worker that dies mid-task gives
its task back to the others once its lease lapses (`core.workers`). A worker stopped with SIGTERM or
Ctrl-C finishes its task first.

It refuses to start against a restored database marked NOT USABLE (`core.readiness.restore_problem`):
its tasks (deliveries, sweeps) would send on data whose erasures have not been replayed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from steward.core import workers
from steward.core.readiness import restore_problem


class Command(BaseCommand):
    help = "Run the background task worker (start several, on several machines, for more throughput)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at an empty queue")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["interval"] >= 0:
            raise CommandError(f"--interval must be zero or more seconds, not {options['interval']}")
        problem = restore_problem(connections["default"])
        if problem:
            raise CommandError(problem)
        for name in ("django_tasks", "django_tasks_db", "steward.core.workers"):
            logging.getLogger(name).setLevel(logging.INFO if options["verbosity"] else logging.WARNING)
        lease_id = workers.register()
        workers.requeue_lost()
        heart = workers.Heartbeat(lease_id)
        heart.start()
        self.stdout.write(f"worker {lease_id} started")
        worker = workers.LeasedWorker(
            queue_names=["*"],
            interval=options["interval"],
            batch=False,
            backend_name="default",
            startup_delay=True,
            max_tasks=None,
            worker_id=lease_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        try:
            worker.run()
        finally:
            heart.stop()
            workers.release(lease_id)
            self.stdout.write(f"worker {lease_id} stopped")
