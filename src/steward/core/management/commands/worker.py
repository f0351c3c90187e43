"""`steward worker`: run background tasks (django-tasks' database worker).

It refuses to start against a restored database marked NOT USABLE (`core.readiness.restore_problem`):
its tasks (deliveries, sweeps) would send on data whose erasures have not been replayed.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from steward.core.readiness import restore_problem


class Command(BaseCommand):
    help = "Run the background task worker."

    def handle(self, *args: Any, **options: Any) -> None:
        problem = restore_problem(connections["default"])
        if problem:
            raise CommandError(problem)
        call_command("db_worker", queue_name="*", interval=1.0)
