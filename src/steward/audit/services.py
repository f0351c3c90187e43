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
from steward.audit.chain import GENESIS, SEAL_ACTION, event_hash
from steward.audit.labels import OBJECTS, describe_all
from steward.audit.models import AuditAnchor, AuditChainSplit, AuditEvent
from steward.audit.selectors import AuditQuery, events_for_export
from steward.core.csvsafe import csv_line
from steward.tenancy.scope import processor_scope, tenant_scope

# One lock per chain (a school's, or the events of no school): the class of a two-key advisory lock,
# the school id the other key. Events of one chain are numbered and linked in the order they take it.
CHAIN_LOCK_CLASS = 0x5354_4143  # "STAC"
# Another for pruning, so two prunes cannot interleave (writers need not wait: each chain's head is
# kept, in the table or in the anchor).
_PRUNE_LOCK = 0x5354_4150  # "STAP"


# How long `committed_through` waits for the writers in flight, at most (a PostgreSQL interval).
WAIT_LIMIT = "60s"


def _chain_key(school_id: int | None) -> int:
    """The chain's second lock key: the school id (0 for events of no school), in a lock's int4.
    Two schools sharing a key (ids two thousand million apart) would only share the lock."""
    return (school_id or 0) & 0x7FFF_FFFF


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
    """Write one event, linked to the newest event of its school's chain (of the chain of events of
    no school, for `school_id=None`). `occurred_at` is for loading history (the demo's monitoring
    story, whose sign-ins and reads happened over the previous weeks); every live event takes the
    clock's time. The id, and so each chain's order, is still the order of writing.

    The chain's lock is held until the caller's transaction commits, so writers of one school wait
    for each other; writers of different schools do not (the lock was one for the whole log)."""
    # No savepoint: an event that cannot be written must undo the action it records.
    with transaction.atomic(savepoint=False):
        with connections["default"].cursor() as cursor:
            # The lock first, in its own statement, so the read below sees the chain's newest event,
            # and before the id is taken: `committed_through` relies on every id handed out
            # belonging to a writer that holds (or held) its chain's lock.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHAIN_LOCK_CLASS, _chain_key(school_id)])
            # The chain's head through a function: row-level security shows a school's scope only
            # its own events, and an event of no school links to one no school's scope may read.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id')), steward_audit_chain_head(%s)",
                [school_id],
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


def committed_through(*, using: str = "default") -> int:
    """The highest event id below which no event can still appear: every event numbered up to it
    has committed (and is visible to the next statement) or rolled back.

    With one chain per school, events of different schools commit out of id order, so the newest
    visible id is not that bound. A writer takes its chain's lock before its id and holds it until
    it commits; so once the last id handed out is read, every writer that may hold a lower id is
    among those holding a chain lock, and waiting for each of those to let go (a shared lock taken
    and given back at once: writers that queue later wait only for that moment) leaves none in
    flight. This process's own other connections are not waited for (the retention sweep prunes
    on the owner's connection while its own audited transaction is open): their events are newer.
    """
    own = [
        conn.connection.info.backend_pid
        for conn in connections.all(initialized_only=True)
        if conn.connection is not None and not conn.connection.closed
    ]
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence('audit_auditevent', 'id')::regclass)")
        last = cursor.fetchone()[0] or 0  # type: ignore[index]
        cursor.execute(
            "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s"
            " AND objsubid = 2 AND granted AND pid <> ALL(%s::int[]) AND pid <> pg_backend_pid()",
            [CHAIN_LOCK_CLASS, own],
        )
        held = cursor.fetchall()
        # Bounded: a writer this process waits for cannot be seen by PostgreSQL's deadlock check (a
        # request holding school A's chain and waiting for the chain of no school, which the
        # retention sweep's own audited transaction holds while its prune waits here). Then the
        # caller fails with a lock timeout rather than hang; the previous setting is put back.
        cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [WAIT_LIMIT])
        outer_timeout = cursor.fetchone()[0]  # type: ignore[index]
        for (key,) in held:
            cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", [CHAIN_LOCK_CLASS, key])
            cursor.execute("SELECT pg_advisory_unlock_shared(%s, %s)", [CHAIN_LOCK_CLASS, key])
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [outer_timeout])
        # Events written with ids of their own (a benchmark's COPY, a restore) are committed if seen.
        cursor.execute("SELECT max(id) FROM audit_auditevent")
        newest = cursor.fetchone()[0] or 0  # type: ignore[index]
    return max(int(last), int(newest))


def audit_prune(*, through_id: int) -> AuditAnchor:
    """Delete the events up to `through_id` and record the anchor, in one transaction as the owner.

    The application role cannot delete events (that is the point of the log), so this runs on the
    owner's connection. The prefix is verified first: pruning must not launder a broken link out of
    existence. The newest event is never pruned. The anchor keeps, besides the hash of event
    `through_id`, every chain's last pruned hash (carried over from the previous anchor for chains
    this prune does not reach): a chain's first remaining event links to it, and a chain pruned
    whole continues from it (`steward_audit_chain_head` reads it).
    """
    from steward.audit.selectors import audit_chain_verify

    owner = connections["owner"]
    # The processor scope on the owner's connection too: an owner that is not a superuser is held
    # by the forced row-level security like the app role.
    with processor_scope(using="owner"), owner.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PRUNE_LOCK])
        # No event numbered up to `through_id` may commit after the anchor (it would sit below it).
        if through_id > committed_through(using="owner"):
            raise ValueError(f"cannot prune through event {through_id}: it is not written yet")
        cursor.execute(
            "SELECT max(id), (SELECT hash FROM audit_auditevent WHERE id = %s) FROM audit_auditevent", [through_id]
        )
        newest, anchor_hash = cursor.fetchone()  # type: ignore[misc]
        if anchor_hash is None or through_id >= newest:
            raise ValueError(f"cannot prune through event {through_id}: it is gone, or it is the newest event")
        report = audit_chain_verify(through_id=through_id)
        if not report.ok:
            raise ValueError(f"not pruning a broken chain: event {report.broken_at}: {report.reason}")
        chain_hashes = _pruned_chain_hashes(cursor, through_id)
        cursor.execute("DELETE FROM audit_auditevent WHERE id <= %s", [through_id])
        anchor: AuditAnchor = AuditAnchor.objects.using("owner").create(
            pruned_through_id=through_id,
            anchor_hash=anchor_hash,
            pruned_at=timezone.now(),
            events_pruned=cursor.rowcount,
            chain_hashes=chain_hashes,
        )
    return anchor


def _pruned_chain_hashes(cursor: Any, through_id: int) -> dict[str, str]:
    """The previous anchor's chain hashes, with the last hash up to `through_id` of each chain that
    has events there (only events after the split are in per-school chains)."""
    previous = AuditAnchor.objects.using("owner").order_by("-id").first()
    hashes = dict(previous.chain_hashes) if previous is not None else {}
    split = AuditChainSplit.objects.using("owner").order_by("id").first()
    cursor.execute(
        "SELECT DISTINCT ON (coalesce(school_id, 0)) coalesce(school_id, 0), hash FROM audit_auditevent"
        " WHERE id > %s AND id <= %s ORDER BY coalesce(school_id, 0), id DESC",
        [split.last_single_id if split is not None else 0, through_id],
    )
    hashes.update({str(key): digest for key, digest in cursor.fetchall()})
    return hashes


# Every chain's newest event after the split, through the (school_id, id) index: a skip scan over
# the schools that have events, then one probe of each school's newest, and the chain of no school.
_HEADS = """
WITH RECURSIVE chains AS (
    (SELECT school_id FROM audit_auditevent WHERE school_id IS NOT NULL ORDER BY school_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.school_id FROM audit_auditevent e WHERE e.school_id > c.school_id ORDER BY e.school_id LIMIT 1)
      FROM chains c WHERE c.school_id IS NOT NULL
)
SELECT c.school_id, h.id, h.hash FROM chains c
  CROSS JOIN LATERAL (SELECT e.id, e.hash FROM audit_auditevent e
                       WHERE e.school_id = c.school_id AND e.id > %(split)s AND e.id <= %(through)s
                       ORDER BY e.id DESC LIMIT 1) h
 WHERE c.school_id IS NOT NULL
UNION ALL
SELECT 0, h.id, h.hash FROM (SELECT e.id, e.hash FROM audit_auditevent e
                              WHERE e.school_id IS NULL AND e.id > %(split)s AND e.id <= %(through)s
                              ORDER BY e.id DESC LIMIT 1) h
"""


def audit_seal_heads() -> AuditEvent | None:
    """Record, in the chain of no school, the newest event of every chain that grew since the last
    seal (school id, "0" for no school -> [id, hash]); None if none grew.

    A chain's links show an event removed from its middle, but not its newest events dropped
    together (there is no later event to link to them). With one chain for the whole log, dropping
    the tail meant dropping every school's latest events; with one chain per school it could be
    one school's alone. A seal, itself hashed into the chain of no school, names each chain's
    newest event, and `audit_chain_verify` checks that every chain still reaches the newest event
    sealed for it: a school's events can then be dropped unseen only since the last seal (written
    every five minutes by `audit.tasks.seal_task`). Heads are read up to `committed_through()`, kept
    in the seal as `through`: a chain whose head is at or below the previous seal's `through` was
    visible to that seal, so "grew" is "has a head above it".
    """
    through = committed_through()
    with processor_scope(), connections["default"].cursor() as cursor:
        split = AuditChainSplit.objects.order_by("id").first()
        previous = (
            AuditEvent.objects.filter(school_id__isnull=True, action=SEAL_ACTION)
            .order_by("-id")
            .values_list("id", "detail")
            .first()
        )
        seal_id, since = (previous[0], int(previous[1].get("through", 0))) if previous else (0, 0)
        cursor.execute(_HEADS, {"split": split.last_single_id if split is not None else 0, "through": through})
        # The previous seal, if it is still the newest event of no school, needs no seal of its own.
        grown = {
            str(key): [event_id, digest]
            for key, event_id, digest in cursor.fetchall()
            if event_id > since and event_id != seal_id
        }
        if not grown:
            return None
        return audit_record(
            action=SEAL_ACTION,
            actor_label="Steward",
            object_type="audit.AuditEvent",
            object_ids=[head[0] for head in grown.values()],
            purpose="tamper evidence",
            detail={"heads": grown, "through": through},
        )


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
