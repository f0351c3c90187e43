"""The service desk's retention rule (see `register.retention_targets`): a ticket, with its thread
and history, goes 90 days after it was resolved (or closed without a resolution), and so does every
investigation copy still live for it (its schema dropped, its record kept as the proof of what it
held). A reopened ticket is no longer resolved, so its clock starts again at the next resolution
(a copy destroyed before the reopening stays destroyed). The tickets' attachments go with them, their
files deleted from disk after the sweep commits. A whole-school legal hold keeps everything
(retention applies it); tickets name no MIS subject, so subject holds do not reach them."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Deleted, Found, RetentionTarget
from steward.retention.models import RetentionProof
from steward.servicedesk import attachments, copies
from steward.servicedesk.models import CopyStatus, InvestigationCopy, Status, SupportGrant, Ticket

_COPIES = InvestigationCopy._meta.db_table
_BECAUSE = "its ticket was resolved more than 90 days ago (service desk retention)"


def _resolved(rule: RetentionRule, ctx: Context) -> list[Found]:
    cutoff = ctx.cutoff_time(rule)
    done = Ticket.objects.filter(
        Q(status=Status.RESOLVED, resolved_at__lt=cutoff)
        | Q(status=Status.CLOSED, resolved_at__lt=cutoff)
        | Q(status=Status.CLOSED, resolved_at__isnull=True, closed_at__lt=cutoff)
    )
    live = InvestigationCopy.objects.filter(status=CopyStatus.LIVE, ticket__in=done.values("pk"))
    return [
        # The copies first: their destruction reads the ticket's reference before the ticket goes.
        Found("investigation copies", f"their ticket was resolved more than {rule.period_days} days ago", [live]),
        Found("service desk tickets", f"resolved more than {rule.period_days} days ago", [done]),
    ]


def _delete(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    """Copies: each schema dropped (their record kept). Tickets: the thread and history first, the
    copies' link emptied, then the tickets, by id."""
    ids = [str(pk) for pk in qs.values_list("pk", flat=True)]
    if qs.model is InvestigationCopy:
        _destroy_copies(ids)
        return Deleted(len(ids), "rows", _COPIES, ids)
    _delete_tickets(ids)
    return Deleted(len(ids), "rows", Ticket._meta.db_table, ids)


def _replay(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    """After a restore, destroy the same copies and delete the same tickets again."""
    if kind != "rows" or target not in (Ticket._meta.db_table, _COPIES):
        return False
    if target == _COPIES:
        _destroy_copies(ids)
    else:
        _delete_tickets(ids)
    return True


def _destroy_copies(ids: list[str]) -> None:
    """Drop the schema of each copy still live (the sweep and a replay after a restore alike)."""
    for copy in InvestigationCopy.objects.filter(pk__in=[int(i) for i in ids], status=CopyStatus.LIVE):
        copies.destroy(copy, because=_BECAUSE, run=RetentionProof.Run.SWEEP)


def _delete_tickets(ids: list[str]) -> None:
    """The tickets' attachments, thread and history, the copies' and support grants' link to them
    (both records outlive the ticket, with its reference), then the tickets; the attachments' files
    are deleted from disk once this commits."""
    attachments.delete_files_after_commit(attachments.keys_of_tickets(ids))
    with connection.cursor() as cursor:
        for table in ("servicedesk_ticketattachment", "servicedesk_ticketmessage", "servicedesk_ticketevent"):
            cursor.execute(f"DELETE FROM {table} WHERE ticket_id = ANY(%s::bigint[])", [ids])  # noqa: S608  # nosec B608
        for kept in (_COPIES, SupportGrant._meta.db_table):  # records that outlive their ticket
            cursor.execute(f"UPDATE {kept} SET ticket_id = NULL WHERE ticket_id = ANY(%s::bigint[])", [ids])  # noqa: S608  # nosec B608
        cursor.execute("DELETE FROM servicedesk_ticket WHERE id = ANY(%s::bigint[])", [ids])


TARGETS = (RetentionTarget("service_desk", "ticket_resolved", None, "school", _resolved, _delete, _replay),)
