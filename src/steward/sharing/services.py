"""Commands on data flows: a recipient requests, the school approves (narrowing), suspends, revokes.

The rules a DPO would check by hand are enforced here: the recipient and the purpose must be in
the register; the categories must belong to the activity; a special category needs an Art. 9
condition; a recipient outside the UK/EEA needs a recorded transfer safeguard. Each command
audits itself (`flow_request_recorded`, `flow_approve`, ...) in its own transaction, so a request
made through the API is audited like one recorded in the back office.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.events import FlowChanged, publish
from steward.register.models import DataCategory, ProcessingActivity, Recipient
from steward.sharing import selectors
from steward.sharing.catalogue import fields_for_categories
from steward.sharing.models import FLOW_TRANSITIONS, DataFlow, DataFlowEvent, Disclosure
from steward.sharing.selectors import JsonPage, Release
from steward.tenancy.models import Organisation


@transaction.atomic
def flow_request(
    *,
    school: Organisation,
    recipient: Recipient,
    activity: ProcessingActivity,
    purpose: str,
    lawful_basis: str,
    categories: Iterable[str],
    fields: Iterable[str] | None = None,
    special_condition: str = "",
    frequency: str = DataFlow.Frequency.ON_DEMAND,
    delivery: str = DataFlow.Delivery.API,
    review_date: dt.date | None = None,
    actor: Actor,
) -> DataFlow:
    chosen = sorted(set(categories))
    _check_register(recipient=recipient, activity=activity, lawful_basis=lawful_basis, categories=chosen)
    available = fields_for_categories(set(chosen))
    requested = set(fields) if fields is not None else available
    unknown = requested - available
    if unknown:
        raise ValidationError({"fields": f"not in the requested categories: {', '.join(sorted(unknown))}"})
    if not purpose.strip():
        raise ValidationError({"purpose": "say why the recipient needs the data"})
    flow: DataFlow = DataFlow.objects.create(
        school=school,
        recipient=recipient,
        activity=activity,
        purpose=purpose,
        lawful_basis=lawful_basis,
        special_condition=special_condition,
        categories=chosen,
        fields=sorted(requested),
        frequency=frequency,
        delivery=delivery,
        review_date=review_date,
    )
    DataFlowEvent.objects.create(school=school, flow=flow, status=flow.status, actor_label=actor.label)
    audit_action(
        actor,
        action="flow_request_recorded",
        school_id=school.pk,
        object_type="sharing.DataFlow",
        object_ids=[flow.pk],
        purpose=purpose[:200],
        detail={"school": school.pk, "recipient": recipient.code, "categories": chosen},
    )
    return flow


@transaction.atomic
def flow_approve(*, flow: DataFlow, actor: Actor, fields: Iterable[str] | None = None, note: str = "") -> DataFlow:
    """Approve (optionally narrowing the fields). Takes effect at once."""
    if fields is not None:
        narrowed = set(fields)
        if not narrowed or not narrowed <= set(flow.fields):
            raise ValidationError({"fields": "approval may only narrow the requested fields"})
        flow.fields = sorted(narrowed)
    special = DataCategory.objects.filter(code__in=flow.categories, special_category=True)
    if special.exists() and not flow.special_condition:
        names = ", ".join(special.values_list("name", flat=True))
        raise ValidationError({"special_condition": f"{names}: a special category needs an Art. 9 condition"})
    if not flow.recipient.may_receive:
        raise ValidationError(
            {
                "recipient": (
                    f"{flow.recipient.name} processes data in {flow.recipient.country}, outside the UK and EEA, "
                    "and the register records no transfer safeguard for it"
                )
            }
        )
    _move(flow, DataFlow.Status.APPROVED, actor, note, extra=["fields"])
    _refresh_notices(flow)  # the recipient now appears in the school's notice
    return flow


def flow_decline(*, flow: DataFlow, actor: Actor, note: str = "") -> DataFlow:
    return _move(flow, DataFlow.Status.DECLINED, actor, note)


@transaction.atomic
def flow_suspend(*, flow: DataFlow, actor: Actor, note: str = "") -> DataFlow:
    _move(flow, DataFlow.Status.SUSPENDED, actor, note)
    _refresh_notices(flow)  # a flow that releases nothing leaves the notice
    return flow


@transaction.atomic
def flow_revoke(*, flow: DataFlow, actor: Actor, note: str = "") -> DataFlow:
    _move(flow, DataFlow.Status.REVOKED, actor, note)
    _refresh_notices(flow)
    return flow


def _refresh_notices(flow: DataFlow) -> None:
    """The school's privacy notice names the recipients of its flows: the register records a new
    version of it inside this transaction (it subscribes to `FlowChanged`; sharing names no notice)."""
    publish(FlowChanged(school_id=flow.school_id, flow_id=flow.pk, status=flow.status))


@transaction.atomic
def _move(flow: DataFlow, status: str, actor: Actor, note: str, extra: list[str] | None = None) -> DataFlow:
    if flow.status not in FLOW_TRANSITIONS[DataFlow.Status(status)]:
        raise ValidationError({"status": f"a {flow.get_status_display().lower()} flow cannot become {status}"})
    flow.status = status
    flow.decided_at = timezone.now()
    flow.save(update_fields=["status", "decided_at", *(extra or [])])
    DataFlowEvent.objects.create(school_id=flow.school_id, flow=flow, status=status, actor_label=actor.label, note=note)
    verb = {"approved": "approve", "declined": "decline", "suspended": "suspend", "revoked": "revoke"}[status]
    audit_action(
        actor,
        action=f"flow_{verb}",
        school_id=flow.school_id,
        object_type="sharing.DataFlow",
        object_ids=[flow.pk],
        detail={"note": note} if note else None,
    )
    return flow


def _check_register(
    *, recipient: Recipient, activity: ProcessingActivity, lawful_basis: str, categories: list[str]
) -> None:
    if not activity.recipients.filter(pk=recipient.pk).exists():
        raise ValidationError(
            {"recipient": f"the register does not name {recipient.name} as a recipient of {activity.name}"}
        )
    if lawful_basis not in activity.lawful_bases:
        raise ValidationError({"lawful_basis": f"{lawful_basis} is not a lawful basis of {activity.name}"})
    held = set(activity.categories.values_list("code", flat=True))
    outside = [c for c in categories if c not in held]
    if not categories or outside:
        raise ValidationError({"categories": f"not processed by {activity.name}: {', '.join(outside) or 'none given'}"})


def read_records_page(
    *,
    school_id: int,
    recipient_id: int,
    release: Release,
    since: int,
    limit: int,
    channel: str = Disclosure.Channel.API,
) -> JsonPage:
    """Read one page of what the release lets this recipient have, and log it as one disclosure.

    The read and its disclosure are one transaction: a page that was read is always in the log,
    and a disclosure is never logged for a page that failed to be read. Call it inside the
    school's tenant scope; the selector it reads with writes nothing, so nothing else can release
    records without this log.
    """
    with transaction.atomic():
        page = selectors.records_page_json(school_id=school_id, release=release, since=since, limit=limit)
        record_disclosure(
            school_id=school_id,
            recipient_id=recipient_id,
            release=release,
            since=since,
            next_since=page.next_since,
            record_ids=page.record_ids,
            subject_ids=page.subject_ids,
            channel=channel,
        )
    return page


def record_disclosure(
    *,
    school_id: int,
    recipient_id: int,
    release: Release,
    since: int,
    next_since: int,
    record_ids: list[str],
    subject_ids: list[str],
    channel: str,
) -> Disclosure | None:
    """Log one release of records (nothing when the page was empty)."""
    if not record_ids:
        return None
    disclosure: Disclosure = Disclosure.objects.create(
        school_id=school_id,
        recipient_id=recipient_id,
        flows=list(release.flow_ids),
        record_type=release.record_type,
        channel=channel,
        record_count=len(record_ids),
        version_from=since,
        version_to=next_since,
        record_ids=record_ids,
        subject_ids=subject_ids,
    )
    return disclosure
