"""Sessions' background work: the daily sweep of expired Django sessions and old session records
(scheduled in `core/schedule.py`)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from steward.audit.actor import Actor
from steward.signins import services


@task()
def sweep_sessions_task() -> list[int]:
    """Idempotent: a second run finds nothing due. Returns the Django sessions, staff and parent
    session records deleted."""
    swept = services.sweep_sessions(now=timezone.now(), actor=Actor.system("session sweep"))
    return [swept.django_sessions, swept.staff_sessions, swept.parent_sessions]


@task()
def sweep_tokens_task() -> list[int]:
    """Idempotent: a second run finds nothing expired. Returns the access, refresh and ID tokens and
    the authorisation codes deleted."""
    swept = services.sweep_tokens(actor=Actor.system("token sweep"))
    return [swept.access_tokens, swept.refresh_tokens, swept.id_tokens, swept.grants]
