"""The detection pass as a scheduled task: every five minutes, off the request path."""

from __future__ import annotations

from django_tasks import task

from steward.monitoring.detection import detection_pass


@task()
def detect_task() -> list[int]:
    """Run one pass over the audit events since the last; returns [events read, alerts raised]."""
    result = detection_pass()
    return [result.events, result.alerts_created]
