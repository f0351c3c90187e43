"""Writing to the audit log. Every event is chained to the one before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.chain import GENESIS, event_hash
from steward.audit.labels import OBJECTS, describe_all
from steward.audit.models import AuditAnchor, AuditEvent
from steward.audit.selectors import AuditQuery, events_for_export
from steward.core.csvsafe import csv_line
from steward.tenancy.scope import processor_scope, tenant_scope

# One lock for the chain: events are numbered and linked in the order they take it.
_CHAIN_LOCK = 0x5354_4155  # "STAU"
# Another for pruning, so two prunes cannot interleave (writers need not wait: the newest event stays).
_PRUNE_LOCK = 0x5354_4150  # "STAP"


def audit_record(
    *,
    action: str,
    actor_user_id: int | None = None,
    actor_client: str = "",
    actor_label: str = "",
    organisation_id: int | None = None,
    school_id: int | None = None,
    object_type: str = "",
    object_ids: Iterable[object] = (),
    purpose: str = "",
    request_id: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    detail: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> AuditEvent:
    """Write one event, linked to the newest. `occurred_at` is for loading history (the demo's
    monitoring story, whose sign-ins and reads happened over the previous weeks); every live event
    takes the clock's time. The id, and so the chain's order, is still the order of writing."""
    # No savepoint: an event that cannot be written must undo the action it records.
    with transaction.atomic(savepoint=False):
        with connections["default"].cursor() as cursor:
            # The lock first, in its own statement, so the read below sees the newest event.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
            # The chain's head through a function: row-level security shows a school's scope only
            # its own events, but every event links to the newest one, whichever school it is of.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id')), steward_audit_chain_head()"
            )
            next_id, last = cursor.fetchone()  # type: ignore[misc]
        event = AuditEvent(
            id=next_id,
            occurred_at=occurred_at or timezone.now(),
            actor_user_id=actor_user_id,
            actor_client=actor_client,
            actor_label=actor_label[:200],
            organisation_id=organisation_id,
            school_id=school_id,
            action=action,
            object_type=object_type,
            object_ids=[str(i) for i in object_ids],
            purpose=purpose,
            request_id=request_id,
            ip_address=ip_address,
            user_agent=user_agent[:300],
            detail=detail or {},
            prev_hash=last or GENESIS,
        )
        event.hash = event_hash(_values(event))
        # No RETURNING (which `save()` adds): a returned row must pass the read policy, and an
        # event of no school, or of a school outside the writer's scope, is written but not read back.
        AuditEvent._base_manager._insert(  # type: ignore[attr-defined]
            [event], fields=AuditEvent._meta.local_concrete_fields, using="default"
        )
    return event


def audit_prune(*, through_id: int) -> AuditAnchor:
    """Delete the events up to `through_id` and record the anchor, in one transaction as the owner.

    The application role cannot delete events (that is the point of the log), so this runs on the
    owner's connection. The prefix is verified first: pruning must not launder a broken link out of
    existence. The newest event is never pruned, because the next event written links to it and
    `audit_record` finds the previous hash in the table, not in the anchors.
    """
    from steward.audit.selectors import audit_chain_verify

    owner = connections["owner"]
    # The processor scope on the owner's connection too: an owner that is not a superuser is held
    # by the forced row-level security like the app role.
    with processor_scope(using="owner"), owner.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PRUNE_LOCK])
        cursor.execute(
            "SELECT max(id), (SELECT hash FROM audit_auditevent WHERE id = %s) FROM audit_auditevent", [through_id]
        )
        newest, anchor_hash = cursor.fetchone()  # type: ignore[misc]
        if anchor_hash is None or through_id >= newest:
            raise ValueError(f"cannot prune through event {through_id}: it is gone, or it is the newest event")
        report = audit_chain_verify(through_id=through_id)
        if not report.ok:
            raise ValueError(f"not pruning a broken chain: event {report.broken_at}: {report.reason}")
        cursor.execute("DELETE FROM audit_auditevent WHERE id <= %s", [through_id])
        anchor: AuditAnchor = AuditAnchor.objects.using("owner").create(
            pruned_through_id=through_id,
            anchor_hash=anchor_hash,
            pruned_at=timezone.now(),
            events_pruned=cursor.rowcount,
        )
    return anchor


def audit_action(
    actor: Actor,
    *,
    action: str,
    school_id: int | None,
    object_type: str,
    object_ids: Iterable[object] = (),
    purpose: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record what a service did, for whom (`school_id`, the school whose data changed) and by whom.

    Called by the service itself inside its own transaction, so the change and its event commit or
    roll back together, whichever edge (back office, API, portal, command) called the service.
    """
    return audit_record(
        action=action,
        actor_user_id=actor.user_id,
        actor_client=actor.client,
        actor_label=actor.label,
        organisation_id=actor.organisation_id,
        school_id=school_id,
        object_type=object_type,
        object_ids=object_ids,
        purpose=purpose,
        request_id=actor.request_id,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        detail=detail,
    )


def audit_request(
    request: HttpRequest,
    *,
    action: str,
    object_type: str = "",
    object_ids: Iterable[object] = (),
    purpose: str = "",
    detail: dict[str, Any] | None = None,
    user_id: int | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Record an event for a web request: who, for which organisation and school, from where.

    For what the edge itself does (a page viewed, a school switched, a sign-in); an action of a
    service is audited by the service with `audit_action`."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    school_id = getattr(request, "school_id", None)
    # Under a support window every page's audit event names the grant: the school's list of what
    # was read under the grant is these events (`servicedesk.support.grant_reads`).
    grant = getattr(request, "support_grant", "")
    if grant:
        detail = {**(detail or {}), "support_grant": grant}
    return audit_record(
        action=action,
        actor_user_id=user_id if user_id is not None else (user.pk if signed_in else None),  # type: ignore[union-attr]
        actor_label=actor_label or (str(user) if signed_in else ""),
        organisation_id=school_id,
        school_id=school_id,
        object_type=object_type,
        object_ids=object_ids,
        purpose=purpose,
        request_id=getattr(request, "request_id", ""),
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
        detail=detail,
    )


def _values(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor_user_id": event.actor_user_id,
        "actor_client": event.actor_client,
        "actor_label": event.actor_label,
        "organisation_id": event.organisation_id,
        "school_id": event.school_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_ids": event.object_ids,
        "purpose": event.purpose,
        "request_id": event.request_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }


AUDIT_CSV_HEADER = ("When (UTC)", "Who", "What happened", "Action code", "Record type", "Record ids", "From")


def audit_log_csv(actor: Actor, *, school_id: int | None, query: AuditQuery) -> Iterator[str]:
    """The filtered log as CSV lines, for a person's spreadsheet: the export is audited now (the
    log names people, so taking a copy of it is itself recorded, in the caller's transaction), and
    the rows are streamed afterwards, read in chunks inside a scope of their own (the school's, or
    the processor's for the whole log), so memory stays flat however long the log. Every text cell
    goes through `safe_cell`: an actor label or a user agent is typed by someone."""
    audit_action(
        actor,
        action="export_csv",
        school_id=school_id,
        object_type="audit.AuditEvent",
        purpose="accountability review",
        detail={"filter": {k: str(v) for k, v in asdict(query).items() if v not in ("", None)}},
    )
    return _audit_csv_rows(school_id, query)


def _audit_csv_rows(school_id: int | None, query: AuditQuery) -> Iterator[str]:
    yield csv_line(AUDIT_CSV_HEADER)
    scope = processor_scope() if school_id is None else tenant_scope([school_id])
    with scope:
        chunk: list[AuditEvent] = []
        for event in events_for_export(school_id=school_id, query=query):
            chunk.append(event)
            if len(chunk) == 500:
                yield from _csv_chunk(chunk, school_id)
                chunk = []
        yield from _csv_chunk(chunk, school_id)


def _csv_chunk(events: list[AuditEvent], school_id: int | None) -> Iterator[str]:
    for event, sentence in describe_all(events, school_id=school_id):
        yield csv_line(
            (
                f"{event.occurred_at:%Y-%m-%d %H:%M:%S}",
                event.actor_label or event.actor_client,
                sentence,
                event.action,
                OBJECTS.get(event.object_type, ("", ""))[1] or event.object_type,
                " ".join(event.object_ids),
                event.ip_address or "",
            )
        )
