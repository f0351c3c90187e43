"""Background work of the service desk: the support-access sweep, four times an hour."""

from __future__ import annotations

from django_tasks import task

from steward.servicedesk import support
from steward.tenancy.scope import estate_scope


@task()
def support_access_sweep() -> list[int]:
    """Lapse unanswered requests and record the end of grants past their time (sending each school
    its list of reads). The database closed those grants already; this only records and tells."""
    with estate_scope():
        expired, ended = support.grant_sweep()
    return [expired, ended]
