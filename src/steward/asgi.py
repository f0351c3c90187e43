"""The ASGI application `steward serve` runs (gunicorn's asyncio ASGI worker).

Django's own ASGI handler gives every request a thread of its own (asgiref's
`ThreadSensitiveContext`), so one process would run as many requests at once as arrive, each with a
database connection of its own: under load that exhausted PostgreSQL's connection slots, and the
threads share one interpreter lock, which slows our CPU-bound pages (see serve.py). This handler
drops that per-request context, so every synchronous part of every request runs in the process's
one sync thread (asgiref's single-thread executor): one request at a time per process with one
persistent connection, as gunicorn's sync worker did, while the event loop reads the requests that
wait (slow clients included) without holding that thread.
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")


class OneThreadASGIHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Steward serves HTTP only, not {scope['type']}")
        await self.handle(scope, receive, send)


django.setup(set_prefix=False)
application = OneThreadASGIHandler()
