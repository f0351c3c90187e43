"""Reading the audit log: verifying the chain and listing events.

Row-level security shows a school's scope only that school's events. The chain walk, the prune's
arithmetic and the processor's list of recent events need every event (those of no school too),
so they read under `processor_scope()`; a school's pages read in the school's scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

from django.core.paginator import Page
from django.db.models import Max, Min, Q, QuerySet

from steward.audit.chain import GENESIS, HASHED_FIELDS, SEAL_ACTION, event_hash
from steward.audit.models import AuditAnchor, AuditChainSplit, AuditEvent
from steward.core.listing import PER_PAGE, page_of
from steward.tenancy.scope import processor_scope


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""
    anchored_after: int = 0  # the newest anchor's pruned_through_id (0: verified from GENESIS)

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def audit_chain_verify(*, batch_size: int = 5000, through_id: int | None = None) -> ChainReport:
    """Walk every event in id order (up to `through_id`, if given); report the first whose hash or link does not hold.

    Events up to the split (`AuditChainSplit`) form one chain; after it each school's events form a
    chain of their own (and the events of no school one more), each starting from the single
    chain's last hash, which that chain must still end with. One walk checks every chain at once,
    keeping each chain's last hash, so the first broken link is named by id and `checked` counts
    the events before it, as for one chain.

    The walk starts from the newest `AuditAnchor` (what retention pruned) rather than GENESIS: the
    single chain from its `anchor_hash`, a school's chain from its entry in `chain_hashes`. An
    event still present at or below the anchor means the anchor does not describe the log (forged,
    or rows restored around it), so that fails too, as does a first event that does not link to
    the anchor's hash.
    """
    with processor_scope():
        return _verify(batch_size=batch_size, through_id=through_id)


def _verify(*, batch_size: int, through_id: int | None) -> ChainReport:
    anchor = AuditAnchor.objects.order_by("-id").first()
    split = AuditChainSplit.objects.order_by("id").first()
    single_end, start = (split.last_single_id, split.last_single_hash) if split else (0, GENESIS)
    previous, after = (anchor.anchor_hash, anchor.pruned_through_id) if anchor else (GENESIS, 0)
    anchored: dict[str, str] = anchor.chain_hashes if anchor else {}
    if anchor is not None:
        stale = AuditEvent.objects.filter(id__lte=after).order_by("id").values_list("id", flat=True).first()
        if stale is not None:
            return ChainReport(
                0, stale, f"it is at or below anchor {anchor.id}, which says events through {after} were pruned", after
            )
    checked = 0
    heads: dict[int, str] = {}  # each per-school chain's last hash so far (0: events of no school)
    sealed: dict[str, list[object]] = {}  # each chain's newest sealed head: [id, hash]
    single_open = after < single_end  # some of the single chain is still there to walk
    events = AuditEvent.objects.filter(id__gt=after)
    if through_id is not None:
        events = events.filter(id__lte=through_id)
    rows = events.order_by("id").values(*HASHED_FIELDS, "hash").iterator(chunk_size=batch_size)
    for row in rows:
        if row["id"] <= single_end:
            expected = previous
            linked_to = (
                f"anchor {anchor.id}'s hash" if anchor is not None and checked == 0 else "the previous event's hash"
            )
        else:
            if single_open:
                if previous != start:  # the single chain's last event is gone or changed
                    return ChainReport(
                        checked, row["id"], f"event {single_end}, where the chains split, is missing", after
                    )
                single_open = False
            key = row["school_id"] or 0
            if key in heads:
                expected, linked_to = heads[key], "the previous event's hash"
            else:
                expected = anchored.get(str(key), start)
                linked_to = f"anchor {anchor.id}'s hash" if anchor is not None else "the start of its school's chain"
        if row["prev_hash"] != expected:
            return ChainReport(checked, row["id"], f"its prev_hash does not match {linked_to}", after)
        if event_hash(row) != row["hash"]:
            return ChainReport(checked, row["id"], "its content does not match its hash", after)
        if row["id"] <= single_end:
            previous = row["hash"]
        else:
            heads[row["school_id"] or 0] = row["hash"]
        if row["action"] == SEAL_ACTION and row["school_id"] is None:
            sealed.update(row["detail"].get("heads", {}))
        checked += 1
    if single_open and previous != start and (through_id is None or through_id >= single_end):
        return ChainReport(checked, single_end, "it is missing, and the chains split after it", after)
    return _sealed_heads_present(sealed, checked, after, through_id) or ChainReport(checked, anchored_after=after)


def _sealed_heads_present(
    sealed: dict[str, list[object]], checked: int, after: int, through_id: int | None
) -> ChainReport | None:
    """Every chain must still reach the newest event a seal names for it (see `audit_seal_heads`):
    its newest events dropped together leave no broken link, but the seal names them."""
    wanted = {
        int(str(head[0])): (int(key), str(head[1]))
        for key, head in sealed.items()
        if int(str(head[0])) > after and (through_id is None or int(str(head[0])) <= through_id)
    }
    found = {
        row["id"]: (row["school_id"] or 0, row["hash"])
        for row in AuditEvent.objects.filter(id__in=list(wanted)).values("id", "school_id", "hash")
    }
    for event_id, head in sorted(wanted.items()):
        if found.get(event_id) != head:
            return ChainReport(
                checked, event_id, "it is missing or changed, and a seal names it as its chain's newest event", after
            )
    return None


def prunable_through(*, before: dt.datetime, keep_schools: Iterable[int] = ()) -> int | None:
    """The highest event id retention may prune: the end of the prefix of events older than `before`.

    A prefix, so the chain stays one unbroken run from the anchor; it stops at the first event that
    is not old enough (even if later ones are), or that is about a school in `keep_schools` (under
    a legal hold), and never takes the newest event (the single chain's rule, kept: a chain pruned
    whole now continues from its hash in the anchor).
    """
    with processor_scope():
        return _prunable_through(before=before, keep_schools=keep_schools)


def _prunable_through(*, before: dt.datetime, keep_schools: Iterable[int]) -> int | None:
    newest = AuditEvent.objects.aggregate(newest=Max("id"))["newest"]
    if newest is None:
        return None
    young = AuditEvent.objects.filter(Q(occurred_at__gte=before) | Q(school_id__in=list(keep_schools))).aggregate(
        first=Min("id")
    )["first"]
    limit = newest if young is None else min(young, newest)
    through: int | None = AuditEvent.objects.filter(id__lt=limit).aggregate(through=Max("id"))["through"]
    return through


def events_for_school(*, school_id: int, limit: int = 100) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(school_id=school_id).order_by("-id")[:limit]


def recent_events(*, limit: int = 100) -> list[AuditEvent]:
    """The newest events of every school and of none: the processor's own view of the log."""
    with processor_scope():
        return list(AuditEvent.objects.order_by("-id")[:limit])


def events_about(*, school_id: int, objects: dict[str, list[str]], actor_label: str = "") -> list[AuditEvent]:
    """Events of one school that name any of these objects (object type -> ids), oldest first; with
    `actor_label`, also every event that actor caused there or at no school (a parent's sign-ins
    belong to no school). Call in the school's scope.

    Ids are compared as text because events store whatever id the action had in hand: a row id
    for some actions, an MIS source id for others.
    """
    about = Q()
    for object_type, ids in objects.items():
        if ids:
            about |= Q(object_type=object_type, object_ids__overlap=[str(i) for i in ids])
    in_scope = Q(about, school_id=school_id) if about else Q()
    if actor_label:
        in_scope |= Q(actor_label=actor_label, school_id=school_id)
    if not in_scope:
        return []
    events = list(AuditEvent.objects.filter(in_scope).order_by("id"))
    if actor_label:
        # The actor's events of no school are the processor's records: read under its scope, and
        # only those of this one actor.
        with processor_scope():
            events += AuditEvent.objects.filter(actor_label=actor_label, school_id__isnull=True)
        events.sort(key=lambda e: e.id)
    return events


@dataclass(frozen=True)
class AuditQuery:
    """What a reader of the log asks for; every part optional. `learner_ids` are the ids (row and
    MIS source ids, as text) of the pupils the reader named, found in the school's scope."""

    person: str = ""
    learner_ids: tuple[str, ...] | None = None
    record_type: str = ""
    record_id: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.person:
            events = events.filter(Q(actor_label__icontains=self.person) | Q(actor_client__icontains=self.person))
        if self.learner_ids is not None:
            events = events.filter(object_type="mis.Learner", object_ids__overlap=list(self.learner_ids))
        if self.record_type:
            events = events.filter(object_type=self.record_type)
        if self.record_id:
            events = events.filter(object_ids__contains=[self.record_id])
        if self.action:
            events = events.filter(action=self.action)
        if self.date_from is not None:
            events = events.filter(occurred_at__date__gte=self.date_from)
        if self.date_to is not None:
            events = events.filter(occurred_at__date__lte=self.date_to)
        return events


def _events(school_id: int | None, query: AuditQuery) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all() if school_id is None else AuditEvent.objects.filter(school_id=school_id)
    return query.filter(events).order_by("-id")


def events_page(
    *, school_id: int | None, query: AuditQuery, page: int | str | None = 1, per_page: int = PER_PAGE
) -> Page[AuditEvent]:
    """A page of the log of one school (in its scope), or of the whole log (`school_id=None`, the
    processor's: read under `processor_scope`). Offset paging with a count: the reader jumps to a
    page of a filtered list; two statements however many events there are."""
    with processor_scope() if school_id is None else nullcontext():
        return page_of(_events(school_id, query), page, per_page=per_page)


def events_for_export(*, school_id: int | None, query: AuditQuery, chunk_size: int = 1000) -> Iterator[AuditEvent]:
    """Every matching event, newest first, read in chunks by a server-side cursor. The caller holds
    the scope open while it iterates (see `services.audit_log_csv`)."""
    yield from _events(school_id, query).iterator(chunk_size=chunk_size)
