"""Background delivery of export and webhook flows: the scheduled sweep and one flow's run, with retries."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from steward.sharing import delivery
from steward.sharing.models import DeliveryAttempt

MAX_ATTEMPTS = 6
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 6 * 60 * 60


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff after the given failed attempt: 1, 2, 4, ... minutes, at most six hours."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), LONGEST_RETRY_SECONDS))


@task()
def deliver_flow_task(flow_id: int) -> str:
    attempt = delivery.deliver_flow(flow_id=flow_id)
    if attempt is None:
        return "nothing to deliver"
    if attempt.status == DeliveryAttempt.Status.FAILED and attempt.attempt < MAX_ATTEMPTS:
        _retry_later(flow_id, attempt.attempt)
    return str(attempt.status)


def _retry_later(flow_id: int, attempt: int) -> None:
    # A backend that cannot defer (the immediate one, in tests) would retry at once, in a loop:
    # there the next scheduled run is the retry.
    if not deliver_flow_task.get_backend().supports_defer:
        return
    later = deliver_flow_task.using(run_after=timezone.now() + retry_delay(attempt))
    transaction.on_commit(partial(later.enqueue, flow_id))


@task()
def deliver_due_flows(frequency: str) -> int:
    flow_ids = delivery.due_flow_ids(frequency=frequency)
    for flow_id in flow_ids:
        transaction.on_commit(partial(deliver_flow_task.enqueue, flow_id))
    return len(flow_ids)
