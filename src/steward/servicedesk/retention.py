"""The service desk's retention rule (see `register.retention_targets`): a ticket, with its thread
and history, goes 90 days after it was resolved (or closed without a resolution). A reopened
ticket is no longer resolved, so its clock starts again at the next resolution. A whole-school legal
hold keeps everything (retention applies it); tickets name no MIS subject, so subject holds do not
reach them. Investigation copies (issue #15's next part) will join this rule's `find`."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Deleted, Found, RetentionTarget, returning
from steward.servicedesk.models import Status, Ticket


def _resolved(rule: RetentionRule, ctx: Context) -> list[Found]:
    cutoff = ctx.cutoff_time(rule)
    done = Ticket.objects.filter(
        Q(status=Status.RESOLVED, resolved_at__lt=cutoff)
        | Q(status=Status.CLOSED, resolved_at__lt=cutoff)
        | Q(status=Status.CLOSED, resolved_at__isnull=True, closed_at__lt=cutoff)
    )
    return [Found("service desk tickets", f"resolved more than {rule.period_days} days ago", [done])]


def _delete(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    """The thread and history first, then the tickets, by id in three statements."""
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        for table in ("servicedesk_ticketmessage", "servicedesk_ticketevent"):
            cursor.execute(f"DELETE FROM {table} WHERE ticket_id IN ({sql})", params)  # noqa: S608  # nosec B608
    ids = returning("DELETE FROM servicedesk_ticket WHERE id IN ({ids}) RETURNING id::text", qs)
    return Deleted(len(ids), "rows", Ticket._meta.db_table, ids)


def _replay(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    """After a restore, delete the same tickets again (their thread and history first)."""
    if kind != "rows" or target != Ticket._meta.db_table:
        return False
    with connection.cursor() as cursor:
        for table in ("servicedesk_ticketmessage", "servicedesk_ticketevent"):
            cursor.execute(f"DELETE FROM {table} WHERE ticket_id = ANY(%s::bigint[])", [ids])  # noqa: S608  # nosec B608
        cursor.execute("DELETE FROM servicedesk_ticket WHERE id = ANY(%s::bigint[])", [ids])
    return True


TARGETS = (RetentionTarget("service_desk", "ticket_resolved", None, "school", _resolved, _delete, _replay),)
