"""`steward serve`: the production WSGI server (gunicorn) on an existing set-up."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Steward with gunicorn (run `steward setup` or `steward demo --setup-only` first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("STEWARD_BIND", "127.0.0.1:8000"))
        # Processes, not threads, by default: pages are CPU-bound Python, and threads of one process
        # share its interpreter lock (with 4 threads, a request holding the audit chain's lock waited
        # for the interpreter; measured by bench/portal.py). gunicorn's rule: 2 x cores + 1.
        workers = os.environ.get("STEWARD_WORKERS", str(2 * (os.cpu_count() or 1) + 1))
        parser.add_argument("--workers", type=int, default=int(workers))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("STEWARD_THREADS", "1")))

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "steward.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--threads",
            str(options["threads"]),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        os.execv(sys.executable, argv)
