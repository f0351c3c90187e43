"""`steward serve`: the production server (gunicorn with its asyncio ASGI worker) on an existing set-up.

Why the ASGI worker and not gunicorn's default sync worker: a sync worker gives itself to one socket
from accept to response, so a dozen clients sending their headers a line a second (slowloris) hold
every worker and the site answers no one; gunicorn's own docs say sync workers need a buffering
proxy in front. The ASGI worker reads requests on an event loop (a waiting socket costs a few
kilobytes, not a process) and hands Django only complete requests; Django's ASGI handler reads the
body before the view runs, and `steward.asgi.OneThreadASGIHandler` runs our synchronous views one
at a time per process, in one thread with one persistent connection. Processes, not threads: pages
are CPU-bound Python, and threads of one process share its interpreter lock (with 4 threads, a
request holding the audit chain's lock waited for the interpreter; measured by bench/portal.py).
gunicorn's rule for processes: 2 x cores + 1. See DESIGN.md, "Serving".
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from steward.core.readiness import restore_problem, setup_problem


class Command(BaseCommand):
    help = "Serve Steward with gunicorn (run `steward setup` or `steward demo --setup-only` first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("STEWARD_BIND", "127.0.0.1:8000"))
        workers = os.environ.get("STEWARD_WORKERS", str(2 * (os.cpu_count() or 1) + 1))
        parser.add_argument("--workers", type=int, default=int(workers))

    def handle(self, *args: Any, **options: Any) -> None:
        problem = setup_problem() or restore_problem(connections["owner"])  # asked here, once, not per request
        if problem:
            raise CommandError(problem)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "steward.asgi:application",
            "--worker-class",
            "asgi",
            "--asgi-lifespan",
            "off",  # Django has no start-up or shutdown hooks to run
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        os.execv(sys.executable, argv)  # our own interpreter, gunicorn's arguments  # nosec B606
