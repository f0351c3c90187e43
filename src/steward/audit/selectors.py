"""Reading the audit log: verifying the chain and listing events."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from steward.audit.chain import GENESIS, HASHED_FIELDS, event_hash
from steward.audit.models import AuditEvent


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_chain_verify(*, batch_size: int = 5000) -> ChainReport:
    """Walk every event in order; report the first whose hash or link does not hold."""
    previous = GENESIS
    checked = 0
    rows = AuditEvent.objects.order_by("id").values(*HASHED_FIELDS, "hash").iterator(chunk_size=batch_size)
    for row in rows:
        if row["prev_hash"] != previous:
            return ChainReport(checked, row["id"], "its prev_hash does not match the previous event's hash")
        if event_hash(row) != row["hash"]:
            return ChainReport(checked, row["id"], "its content does not match its hash")
        previous = row["hash"]
        checked += 1
    return ChainReport(checked)


def events_for_school(*, school_id: int, limit: int = 100) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(school_id=school_id).order_by("-id")[:limit]


def recent_events(*, limit: int = 100) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("-id")[:limit]


def events_about(*, school_id: int, objects: dict[str, list[str]], actor_label: str = "") -> QuerySet[AuditEvent]:
    """Events of one school that name any of these objects (object type -> ids), oldest first; with
    `actor_label`, also every event that actor caused (a parent's sign-ins belong to no school).

    Ids are compared as text because events store whatever id the action had in hand: a row id
    for some actions, an MIS source id for others.
    """
    about = Q()
    for object_type, ids in objects.items():
        if ids:
            about |= Q(object_type=object_type, object_ids__overlap=[str(i) for i in ids])
    in_scope = Q(about, school_id=school_id) if about else Q()
    if actor_label:
        in_scope |= Q(actor_label=actor_label, school_id=school_id) | Q(actor_label=actor_label, school_id__isnull=True)
    if not in_scope:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(in_scope).order_by("id")
