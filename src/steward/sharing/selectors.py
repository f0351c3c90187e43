"""What a recipient may read, read straight from SQL rows in change-version order.

Only fields of approved flows are selected (absent, never null) and restricted subjects are filtered
in the same statement. These functions only read: a page released to a recipient is logged as a
Disclosure by `services.read_records_page` (the API) or the delivery (exports, webhooks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core import paginator
from django.db import connections
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from psycopg import sql

from steward.core import replicas
from steward.core.listing import PER_PAGE, page_of
from steward.ingest.schema import spec_for
from steward.mis.models import ProcessingRestriction, Tombstone
from steward.register.labels import category_label, field_label
from steward.register.models import DataCategory, LawfulBasis, SpecialCondition
from steward.sharing.catalogue import field_categories, released_types, subject_fields
from steward.sharing.models import FLOW_TRANSITIONS, DataFlow, DataFlowEvent, DeliveryAttempt, Disclosure
from steward.tenancy.scope import estate_scope


@dataclass(frozen=True)
class Release:
    """What approved flows release of one record type: fields and the flows that allow them."""

    record_type: str
    fields: tuple[str, ...]
    flow_ids: tuple[int, ...]


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_since: int
    more: bool


def flows_between(*, school_id: int, recipient_id: int) -> list[DataFlow]:
    return list(
        DataFlow.objects.filter(school_id=school_id, recipient_id=recipient_id)
        .select_related("recipient")
        .order_by("id")
    )


def releasing(flow: DataFlow) -> bool:
    """Approved, and still allowed by the register: a recipient outside the UK/EEA whose transfer
    safeguard has been withdrawn receives nothing, whatever was approved before."""
    return flow.status == DataFlow.Status.APPROVED and flow.recipient.may_receive


def releasing_flows(*, school_id: int, service: str) -> list[DataFlow]:
    """The school's flows of one service's activity that release data now, oldest first: what its
    privacy notice must name as recipients (and nothing else)."""
    flows = (
        DataFlow.objects.filter(school_id=school_id, activity__service=service)
        .select_related("recipient")
        .order_by("id")
    )
    return [f for f in flows if releasing(f)]


def release_for(flows: list[DataFlow], record_type: str) -> Release | None:
    approved = [f for f in flows if releasing(f)]
    fields: set[str] = set()
    ids = []
    for flow in approved:
        chosen = {f.split(".", 1)[1] for f in flow.fields if f.split(".", 1)[0] == record_type}
        if chosen:
            fields |= chosen
            ids.append(flow.id)
    if not ids:
        return None
    order = [c.name for c in spec_for(record_type).columns if c.name in fields]
    return Release(record_type, tuple(order), tuple(ids))


def released_record_types(flows: list[DataFlow]) -> set[str]:
    return set().union(*(released_types(set(f.fields)) for f in flows if releasing(f)))


def _changed_rows(release: Release) -> tuple[list[str], sql.Composable]:
    """The released columns of rows changed since %(since)s, restricted subjects left out, in
    change-version order, one more than %(limit)s (to tell whether more remain)."""
    columns = ["source_id", *release.fields]
    query = sql.SQL(
        "SELECT t.change_version, {columns} FROM {table} t WHERE t.school_id = %(school)s "
        "AND t.change_version > %(since)s {restricted} ORDER BY t.change_version LIMIT %(limit)s + 1"
    ).format(
        columns=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns),
        table=sql.Identifier(spec_for(release.record_type).table),
        restricted=_not_restricted(release.record_type),
    )
    return columns, query


def records_page(*, school_id: int, release: Release, since: int, limit: int) -> Page:
    """A page as Python rows (exports and webhooks write them out)."""
    columns, query = _changed_rows(release)
    with connections[replicas.read_alias()].cursor() as cursor:  # a replica in a reading block
        cursor.execute(query, {"school": school_id, "since": since, "limit": limit})
        fetched = cursor.fetchall()
    more = len(fetched) > limit
    rows = [{"change_version": r[0], **dict(zip(columns, r[1:], strict=True))} for r in fetched[:limit]]
    return Page(rows, rows[-1]["change_version"] if rows else since, more)


def page_ids(record_type: str, page: Page) -> tuple[list[str], list[str]]:
    """The records' and the subjects' source ids of a page, for the disclosure log."""
    subjects = {str(r[f]) for f in subject_fields(record_type) for r in page.rows if r.get(f)}
    return [str(r["source_id"]) for r in page.rows], sorted(subjects)


@dataclass(frozen=True)
class JsonPage:
    """A page already serialised by PostgreSQL, with what the disclosure log needs to know."""

    records_json: str
    count: int
    next_since: int
    more: bool
    record_ids: list[str]
    subject_ids: list[str]


def records_page_json(*, school_id: int, release: Release, since: int, limit: int) -> JsonPage:
    """One statement builds the page's JSON (json_agg) and the disclosure's ids: no Python row objects."""
    kinds = {c.name: c.kind for c in spec_for(release.record_type).columns}
    columns, fetch = _changed_rows(release)
    pairs: list[sql.Composable] = [sql.SQL("'change_version', p.change_version")]
    for name in columns:
        value = sql.SQL("encode(p.{}, 'base64')") if kinds.get(name) == "base64" else sql.SQL("p.{}")
        pairs.append(sql.SQL("{}, {}").format(sql.Literal(name), value.format(sql.Identifier(name))))
    subjects = list(subject_fields(release.record_type))
    subject_array = (
        sql.SQL(" || ").join(sql.SQL("array_agg(p.{})").format(sql.Identifier(f)) for f in subjects)
        if subjects
        else sql.SQL("ARRAY[]::text[]")
    )
    query = sql.SQL("""
        WITH fetched AS ({fetch}),
        p AS (SELECT * FROM fetched ORDER BY change_version LIMIT %(limit)s)
        SELECT coalesce(json_agg(json_build_object({pairs}) ORDER BY p.change_version), '[]'::json)::text,
               count(*), max(p.change_version), (SELECT count(*) FROM fetched) > %(limit)s,
               coalesce(array_agg(p.source_id), ARRAY[]::text[]), {subjects}
        FROM p
    """).format(fetch=fetch, pairs=sql.SQL(", ").join(pairs), subjects=subject_array)
    with connections[replicas.read_alias()].cursor() as cursor:  # a replica in a reading block
        cursor.execute(query, {"school": school_id, "since": since, "limit": limit})
        records_json, count, top, more, record_ids, subject_ids = cursor.fetchone()
    return JsonPage(
        records_json,
        count,
        top if top is not None else since,
        bool(more),
        list(record_ids),
        sorted({s for s in (subject_ids or []) if s}),
    )


def _not_restricted(record_type: str) -> sql.Composable:
    parts = [
        sql.SQL(
            "AND NOT EXISTS (SELECT 1 FROM {r} x WHERE x.school_id = t.school_id AND x.record_type = {type} "
            "AND x.source_id = t.{field})"
        ).format(
            r=sql.Identifier(ProcessingRestriction._meta.db_table),
            type=sql.Literal(subject_type),
            field=sql.Identifier(field),
        )
        for field, subject_type in subject_fields(record_type).items()
    ]
    return sql.SQL(" ").join(parts)


def deletes_page(*, school_id: int, record_types: set[str], since: int, limit: int) -> Page:
    rows = list(
        Tombstone.objects.filter(school_id=school_id, record_type__in=record_types, change_version__gt=since)
        .order_by("change_version")
        .values("change_version", "record_type", "source_id", "deleted_at")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([dict(r) for r in rows], rows[-1]["change_version"] if rows else since, more)


def disclosures_of_subject(*, school_id: int, source_id: str) -> list[Disclosure]:
    """Every disclosure by this school that included this learner's, contact's or staff member's
    data (source ids are the MIS's, unique only within a school)."""
    return list(
        Disclosure.objects.filter(school_id=school_id, subject_ids__contains=[source_id])
        .select_related("recipient")
        .order_by("at")
    )


# --- Back office: a school reviewing its flows (tenant-scoped, read only) ---

STATUS_ORDER = (
    DataFlow.Status.REQUESTED,
    DataFlow.Status.APPROVED,
    DataFlow.Status.SUSPENDED,
    DataFlow.Status.DECLINED,
    DataFlow.Status.REVOKED,
)


@dataclass(frozen=True)
class FlowGroup:
    status: str
    label: str
    flows: list[DataFlow]


@dataclass(frozen=True)
class FlowCategory:
    code: str
    name: str
    special: bool


@dataclass(frozen=True)
class FlowField:
    value: str  # record-type.field, as stored on the flow
    name: str
    category: str


@dataclass(frozen=True)
class FlowDetail:
    """A flow in the words a DPO reads it: who, why, on which basis, exactly what, and what happened."""

    flow: DataFlow
    lawful_basis: str
    special_condition: str
    categories: list[FlowCategory]
    fields: dict[str, list[FlowField]]
    events: list[DataFlowEvent]
    next_statuses: frozenset[str]
    deliveries: list[DeliveryAttempt]


def flows_for_school() -> list[FlowGroup]:
    """The current school's flows grouped by status, requests awaiting a decision first."""
    flows = list(DataFlow.objects.select_related("recipient").order_by("-requested_at", "-id"))
    return [
        FlowGroup(status, status.label, [f for f in flows if f.status == status])
        for status in STATUS_ORDER
        if any(f.status == status for f in flows)
    ]


def flow_for_school(*, flow_id: int) -> DataFlow | None:
    flow: DataFlow | None = DataFlow.objects.select_related("recipient", "activity").filter(pk=flow_id).first()
    return flow


def flow_detail(*, flow_id: int) -> FlowDetail | None:
    flow = flow_for_school(flow_id=flow_id)
    if flow is None:
        return None
    categories = {c.code: c for c in DataCategory.objects.filter(code__in=flow.categories)}
    classified = field_categories()
    fields: dict[str, list[FlowField]] = {}
    for value in sorted(flow.fields):
        record_type, name = value.split(".", 1)
        code = classified.get(record_type, {}).get(name, "")
        category = categories.get(code)
        fields.setdefault(record_type, []).append(
            FlowField(value, field_label(value), category.name if category else category_label(code))
        )
    return FlowDetail(
        flow=flow,
        lawful_basis=str(LawfulBasis(flow.lawful_basis).label),
        special_condition=str(SpecialCondition(flow.special_condition).label) if flow.special_condition else "",
        categories=[
            FlowCategory(code, categories[code].name, categories[code].special_category)
            if code in categories
            else FlowCategory(code, category_label(code), special=False)
            for code in flow.categories
        ],
        fields=fields,
        events=list(DataFlowEvent.objects.filter(flow=flow).order_by("at", "id")),
        next_statuses=frozenset(s for s, sources in FLOW_TRANSITIONS.items() if flow.status in sources),
        deliveries=list(DeliveryAttempt.objects.filter(flow=flow).order_by("-started_at", "-id")[:20]),
    )


def search_flows(*, text: str, limit: int = 20) -> list[DataFlow]:
    """The scope's flows, past ones too, whose recipient, purpose or status matches `text` (one statement)."""
    text = text.strip()
    if not text:
        return []
    query = Q(recipient__name__icontains=text) | Q(purpose__icontains=text) | Q(status__iexact=text)
    return list(DataFlow.objects.select_related("recipient").filter(query).order_by("-requested_at", "-id")[:limit])


@dataclass(frozen=True)
class SchoolDeliveryProblems:
    """A school's flows whose latest delivery attempt failed: for the processor's list of problems."""

    school_id: int
    failing_flows: int
    last_failed_at: dt.datetime


def _failing_attempts() -> QuerySet[DeliveryAttempt]:
    """Failed attempts with no later success for their flow: deliveries that are failing now."""
    later_success = DeliveryAttempt.objects.filter(
        flow_id=OuterRef("flow_id"), started_at__gt=OuterRef("started_at"), status=DeliveryAttempt.Status.SUCCEEDED
    )
    return DeliveryAttempt.objects.filter(status=DeliveryAttempt.Status.FAILED).exclude(Exists(later_success))


def failing_flows() -> list[DataFlow]:
    """The scope's flows whose deliveries are failing now (one statement): a school's alerts."""
    failing = _failing_attempts().values("flow_id")
    return list(DataFlow.objects.select_related("recipient").filter(id__in=failing).order_by("id"))


def flows_awaiting_decision() -> list[DataFlow]:
    """The scope's requests to share data that nobody has decided yet, oldest first (one statement)."""
    requested = DataFlow.objects.select_related("recipient").filter(status=DataFlow.Status.REQUESTED)
    return list(requested.order_by("requested_at", "id"))


def failing_deliveries_by_school() -> list[SchoolDeliveryProblems]:
    """Every school's flows whose newest delivery attempt failed, counted in one statement across
    the estate (the processor's home page opens the estate scope; counts only, no data)."""
    with estate_scope():
        rows = (
            _failing_attempts()
            .values("school_id")
            .annotate(flows=Count("flow_id", distinct=True), last=Max("started_at"))
            .order_by("-last")
        )
        return [SchoolDeliveryProblems(r["school_id"], r["flows"], r["last"]) for r in rows]


@dataclass(frozen=True)
class DisclosureFilter:
    """What the disclosure log is narrowed to: one recipient (its code), one record type; both optional."""

    recipient: str = ""
    record_type: str = ""

    def apply(self, disclosures: QuerySet[Disclosure]) -> QuerySet[Disclosure]:
        if self.recipient:
            disclosures = disclosures.filter(recipient__code=self.recipient)
        if self.record_type:
            disclosures = disclosures.filter(record_type=self.record_type)
        return disclosures


def disclosures_filtered(*, where: DisclosureFilter) -> QuerySet[Disclosure]:
    """The scope's disclosure log, newest first, with each recipient joined (one statement)."""
    return where.apply(Disclosure.objects.select_related("recipient")).order_by("-at", "-id")


def disclosures_page(
    *, where: DisclosureFilter, page: int | str | None = 1, per_page: int = PER_PAGE
) -> paginator.Page[Disclosure]:
    """One page of the log with the count of all that match (two statements)."""
    return page_of(disclosures_filtered(where=where), page, per_page=per_page)
