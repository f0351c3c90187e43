"""Sealing the audit chains' heads as a scheduled task: every five minutes, off the request path."""

from __future__ import annotations

from django_tasks import task

from steward.audit.services import audit_seal_heads


@task()
def seal_task() -> int:
    """Seal every chain that grew since the last seal; returns the seal's event id (0: none grew)."""
    event = audit_seal_heads()
    return event.id if event is not None else 0
