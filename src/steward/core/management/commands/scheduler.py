"""`steward scheduler`: enqueue the scheduled work of `core/schedule.py` when each minute comes.

Run one or several (on several machines, for a scheduler that survives losing one): each slot is
enqueued by one of them only (`schedule.run_due`, through `ScheduledRun`), and a minute run twice
after a restart enqueues nothing the second time. Like `serve` and `worker`, it refuses to start
against a restored database marked NOT USABLE (`core.readiness.restore_problem`).
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.utils import timezone

from steward.core.readiness import restore_problem
from steward.core.schedule import run_due


class Command(BaseCommand):
    help = "Enqueue scheduled tasks (nightly deliveries, sweeps) at their times."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="run the minute of this ISO date-time once and exit (for checks)")

    def handle(self, *args: Any, **options: Any) -> None:
        problem = restore_problem(connections["default"])
        if problem:
            raise CommandError(problem)
        if options["at"]:
            moment = dt.datetime.fromisoformat(options["at"])
            for entry in run_due(moment if timezone.is_aware(moment) else timezone.make_aware(moment)):
                self.stdout.write(f"enqueued {entry.task} {entry.kwargs}")
            return
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        last = None
        while not stopping:
            now = timezone.now().replace(second=0, microsecond=0)
            if now != last:
                for entry in run_due(now):
                    self.stdout.write(f"{now:%Y-%m-%d %H:%M} enqueued {entry.task} {entry.kwargs}")
                last = now
            time.sleep(1)
