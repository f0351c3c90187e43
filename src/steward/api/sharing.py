"""The recipient API: schools with approved flows, delta reads per record type, deletes.

Authenticated by OAuth 2.0 client credentials of a recipient client (scope `read`). Every page
released is recorded as a Disclosure.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from steward.api.auth import recipient_client
from steward.api.problems import Problem, problem_status
from steward.audit.actor import Actor, actor_from_request
from steward.audit.services import audit_record
from steward.core.replicas import reading_from_replica
from steward.ingest.schema import record_types
from steward.mis.models import RECORD_MODELS
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import selectors, services
from steward.sharing.models import DataFlow, Disclosure
from steward.tenancy.http import ApiRequest
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope, tenant_scope
from steward.tenancy.selectors import contracted_services

router = Router(tags=["sharing"], auth=recipient_client)

RecordType = Literal[tuple(record_types())]  # type: ignore[valid-type]


class FlowOut(Schema):
    id: int
    purpose: str
    lawful_basis: str
    record_types: list[str]
    fields: list[str]
    frequency: str
    delivery: str


class SchoolOut(Schema):
    urn: int
    name: str
    la_code: str
    establishment_number: str
    flows: list[FlowOut]


# Change versions are PostgreSQL bigints; a `since` outside that range would fail in the query.
MAX_CHANGE_VERSION = 2**63 - 1


class PageParams(Schema):
    since: int = Field(0, ge=0, le=MAX_CHANGE_VERSION, description="the change version read up to; 0 for all")
    limit: int = 1000


class RecordsPage(Schema):
    record_type: str
    records: list[dict[str, Any]]
    next_since: int
    more: bool


def _recipient(request: ApiRequest) -> Recipient:
    client = request.auth
    return Recipient.objects.get(code=client.recipient_code)


@router.get(
    "/schools",
    response=list[SchoolOut],
    summary="Schools with an approved flow to this recipient",
    operation_id="steward_sharing_api_schools",
)
def schools(request: ApiRequest) -> list[SchoolOut]:
    with reading_from_replica():  # after authentication: a new token is read from the primary
        return _schools(request)


def _schools(request: ApiRequest) -> list[SchoolOut]:
    recipient = _recipient(request)
    with estate_scope():
        approved = DataFlow.objects.filter(recipient=recipient, status=DataFlow.Status.APPROVED)
        flows = [f for f in approved.select_related("recipient").order_by("id") if selectors.releasing(f)]
    by_school: dict[int, list[DataFlow]] = {}
    for flow in flows:
        by_school.setdefault(flow.school_id, []).append(flow)
    result = []
    for school in Organisation.objects.filter(pk__in=by_school).order_by("name"):
        result.append(
            SchoolOut(
                urn=school.urn or 0,
                name=school.name,
                la_code=school.la_code,
                establishment_number=school.establishment_number,
                flows=[
                    FlowOut(
                        id=f.id,
                        purpose=f.purpose,
                        lawful_basis=f.lawful_basis,
                        record_types=sorted({x.split(".", 1)[0] for x in f.fields}),
                        fields=f.fields,
                        frequency=f.frequency,
                        delivery=f.delivery,
                    )
                    for f in by_school[school.id]
                ],
            )
        )
    return result


def _refused(
    request: ApiRequest, status: int, title: str, *, urn: int, school: Organisation | None, record_type: str = ""
) -> Status[Any]:
    """A refusal of a call for a school or record type no approved flow releases, audited as
    `api_refused` so that monitoring can count a client's repeated refusals (issue #16). The event
    names the school only when it exists; the URN asked for is in the detail either way."""
    actor = actor_from_request(request)
    # The school's scope only to write its event (the audit log's insert policy asks for it).
    with tenant_scope([school.id] if school is not None else []):
        _audit_refusal(actor, status, urn, school, record_type, request.path)
    return problem_status(request, status, title)


def _audit_refusal(
    actor: Actor, status: int, urn: int, school: Organisation | None, record_type: str, path: str
) -> None:
    audit_record(
        action="api_refused",
        actor_client=actor.client,
        actor_label=actor.label,
        organisation_id=actor.organisation_id,
        school_id=school.id if school is not None else None,
        object_type="",
        purpose="recipient API",
        request_id=actor.request_id,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        detail={"status": status, "urn": urn, "record_type": record_type, "path": path[:200]},
    )


def _audit_read(actor: Actor, school: Organisation, record_type: str, record_ids: list[str]) -> None:
    """A page of records read by a recipient's client is audited as a `view` of those records, like a
    back-office page of them (besides its Disclosure, the controller's log of what was released):
    monitoring's bulk-read rule counts a client's reads against its own baseline from these events."""
    audit_record(
        action="view",
        actor_client=actor.client,
        actor_label=actor.label,
        organisation_id=actor.organisation_id,
        school_id=school.id,
        object_type=_MODEL_OF[record_type],
        object_ids=record_ids,
        purpose="recipient API",
        request_id=actor.request_id,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
    )


_MODEL_OF = {model.record_type: model._meta.label for model in RECORD_MODELS}


def _school_flows(request: ApiRequest, urn: int) -> tuple[Organisation, Recipient, list[DataFlow]] | Status[Any]:
    recipient = _recipient(request)
    school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=urn).first()
    if school is None:
        return _refused(request, 404, "No such school for this recipient", urn=urn, school=None)
    with tenant_scope([school.id]):
        flows = selectors.flows_between(school_id=school.id, recipient_id=recipient.id)
    if not flows:
        return _refused(request, 404, "No such school for this recipient", urn=urn, school=school)
    return school, recipient, flows


@router.get(
    "/schools/{urn}/deletes",
    response={200: RecordsPage, 403: Problem, 404: Problem},
    summary="Deleted records (tombstones) of the types released to this recipient",
    operation_id="steward_sharing_api_deletes",
)
def deletes(request: ApiRequest, urn: int, page: Query[PageParams]) -> Status[Any]:
    with reading_from_replica():
        return _deletes(request, urn, page)


def _deletes(request: ApiRequest, urn: int, page: PageParams) -> Status[Any]:
    found = _school_flows(request, urn)
    if isinstance(found, Status):
        return found
    school, _, flows = found
    released = selectors.released_record_types(flows)
    if not released:
        return _refused(request, 403, "No approved flow releases data of this school to you", urn=urn, school=school)
    with tenant_scope([school.id]):
        result = selectors.deletes_page(
            school_id=school.id, record_types=released, since=page.since, limit=_limit(page.limit)
        )
    return Status(
        200, RecordsPage(record_type="deletes", records=result.rows, next_since=result.next_since, more=result.more)
    )


@router.get(
    "/schools/{urn}/{record_type}",
    response={200: RecordsPage, 403: Problem, 404: Problem},
    summary="Records of one type changed since a change version, in version order",
    operation_id="steward_sharing_api_records",
)
def records(
    request: ApiRequest,
    urn: int,
    record_type: RecordType,  # type: ignore[valid-type]
    page: Query[PageParams],
) -> Status[Any] | HttpResponse:
    with reading_from_replica():  # the disclosure and the audit event are written to the primary
        return _records(request, urn, str(record_type), page)


def _records(request: ApiRequest, urn: int, record_type: str, page: PageParams) -> Status[Any] | HttpResponse:
    found = _school_flows(request, urn)
    if isinstance(found, Status):
        return found
    school, recipient, flows = found
    release = selectors.release_for(flows, record_type)
    if release is None:
        return _refused(
            request,
            403,
            f"No approved flow releases {record_type} of this school to you",
            urn=urn,
            school=school,
            record_type=str(record_type),
        )
    with tenant_scope([school.id]):
        result = services.read_records_page(
            school_id=school.id,
            recipient_id=recipient.id,
            release=release,
            since=page.since,
            limit=_limit(page.limit),
            channel=Disclosure.Channel.API,
        )
        if result.record_ids:
            _audit_read(actor_from_request(request), school, str(record_type), result.record_ids)
    # PostgreSQL wrote the records' JSON; wrapping it costs a string join, not a thousand Python
    # objects. The declared schema (RecordsPage) still documents the shape.
    body = (
        f'{{"record_type": {json.dumps(record_type)}, "records": {result.records_json}, '
        f'"next_since": {result.next_since}, "more": {"true" if result.more else "false"}}}'
    )
    return HttpResponse(body, content_type="application/json")


class FlowRequestIn(Schema):
    school_urn: int
    activity: Literal["hosted_mis", "parent_portal", "data_exchange", "rostering", "service_desk"]
    purpose: str
    lawful_basis: Literal["6.1.a", "6.1.b", "6.1.c", "6.1.d", "6.1.e", "6.1.f"]
    categories: list[str]
    fields: list[str] | None = None
    special_condition: Literal["", "9.2.a", "9.2.b", "9.2.c", "9.2.f", "9.2.g", "9.2.h", "9.2.j"] = ""
    frequency: Literal["on_demand", "daily", "weekly"] = "on_demand"
    delivery: Literal["api", "export", "webhook"] = "api"
    review_date: dt.date | None = None


class FlowRequestOut(Schema):
    id: int
    status: str
    school_urn: int
    fields: list[str]


@router.post(
    "/flows",
    response={201: FlowRequestOut, 404: Problem, 422: Problem},
    summary="Ask a school for a data flow; the school approves, narrows or declines it",
    operation_id="steward_sharing_api_request_flow",
)
def request_flow(request: ApiRequest, body: FlowRequestIn) -> Status[Any]:
    recipient = _recipient(request)
    school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=body.school_urn).first()
    activity = ProcessingActivity.objects.filter(service=body.activity).first()
    if school is None or activity is None:
        return problem_status(request, 404, "No such school")
    if body.activity not in contracted_services(school_id=school.id):
        return problem_status(
            request,
            422,
            "The school does not use this service",
            f"{school.name} has no contract in force for {activity.name}",
        )
    try:
        with tenant_scope([school.id]):
            flow = services.flow_request(
                school=school,
                recipient=recipient,
                activity=activity,
                purpose=body.purpose,
                lawful_basis=body.lawful_basis,
                categories=body.categories,
                fields=body.fields,
                special_condition=body.special_condition,
                frequency=body.frequency,
                delivery=body.delivery,
                review_date=body.review_date,
                actor=actor_from_request(request).labelled(f"{recipient.name} (API)"),
            )
    except ValidationError as refused:
        detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in refused.message_dict.items())
        return problem_status(request, 422, "The request does not fit the register", detail)
    return Status(201, FlowRequestOut(id=flow.id, status=flow.status, school_urn=body.school_urn, fields=flow.fields))


def _limit(limit: int) -> int:
    return max(1, min(limit, 5000))
