"""Background work of rights requests: the daily deadline reminders."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from steward.rights import services


@task()
def send_rights_reminders() -> int:
    """Idempotent within a day: a request already reminded about today is left out."""
    return services.reminders_send(today=timezone.localdate())
