"""The demo's service desk: requests for assistance at different stages, one of them past its
service level, raised and answered through `servicedesk.services` like any other (relative to the
day the demo is loaded, so one is always breached)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_record
from steward.demo.loader import DEFAULT_BASE_URL
from steward.mis.models import Learner
from steward.servicedesk import services, support
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope


def load_demo_tickets(school: Organisation, staff: dict[str, User]) -> dict[str, Any]:
    """Four tickets at Oakwood Special School (every demo school's contract includes the service desk):
    new and past its service level; in progress with the desk's reply; resolved (with a past
    support-access grant and its read list); new and in time.
    Returns what the credentials file says about them."""
    desk = User.objects.get(email="tom.baker@demo-county.invalid")
    now = timezone.now()
    admin, dpo = staff["special-admin"], staff["special-dpo"]
    with tenant_scope([school.id]):
        breached = _raise(
            school,
            admin,
            "parent_portal",
            "critical",
            "Parents cannot sign in to the portal",
            now - dt.timedelta(days=7),
        )
        answered = _raise(
            school, dpo, "privacy", "normal", "Which recipients get our attendance data?", now - dt.timedelta(days=1)
        )
        services.ticket_reply(
            ticket=answered,
            author=desk,
            body="The disclosure log under Data sharing lists every recipient; we will confirm the flows today.",
            from_processor=True,
            actor=Actor.of_user(desk),
        )
        resolved = _raise(
            school, admin, "mis_feed", "high", "Last night's MIS upload was rejected", now - dt.timedelta(days=2)
        )
        services.ticket_assign(ticket=resolved, assignee=desk, actor=Actor.of_user(desk))
        grant = _past_support_access(school, resolved, desk, dpo, now - dt.timedelta(days=2))
        services.ticket_resolve(
            ticket=resolved,
            note="The agent's client secret had expired; a new one is issued.",
            actor=Actor.of_user(desk),
        )
        _raise(
            school,
            admin,
            "accounts",
            "low",
            "A teacher's account shows the wrong name",
            now - dt.timedelta(hours=3),
        )
    return {
        "school_url": f"{DEFAULT_BASE_URL}/school/service-desk/",
        "queue_url": f"{DEFAULT_BASE_URL}/processor/service-desk/",
        "note": f"{school.name} has raised requests under "
        "Service desk; the ICT service's staff (Tom Baker, Priya Shah) work "
        f"the queue, where {breached.reference} is past its service level. Under Support access, "
        f"{grant.reference} is a past grant to Tom Baker for {resolved.reference}, with what he read.",
        "support_access_url": f"{DEFAULT_BASE_URL}/school/support-access/{grant.pk}/",
    }


def _past_support_access(school: Organisation, ticket: Any, desk: User, dpo: User, at: dt.datetime) -> Any:
    """A grant asked for, approved by the DPO, used for one search (recorded as the back office
    records a search under a grant) and ended at its time by the sweep, which mails the read list."""
    grant = support.grant_request(
        ticket=ticket,
        user=desk,
        reason="See whether the rejected upload left any pupil records half-written",
        scope=["search", "learners"],
        actor=Actor.of_user(desk),
        now=at,
    )
    support.grant_approve(grant=grant, user=dpo, actor=Actor.of_user(dpo, organisation_id=school.id), now=at)
    learners = list(Learner.objects.order_by("id").values_list("id", flat=True)[:3])
    audit_record(
        action="search",
        actor_user_id=desk.pk,
        actor_label=str(desk),
        organisation_id=school.id,
        school_id=school.id,
        object_type="mis.Learner",
        object_ids=learners,
        purpose="school administration",
        detail={"support_grant": grant.reference},
    )
    support.grant_sweep(now=at + dt.timedelta(minutes=grant.duration_minutes))
    return grant


def _raise(school: Organisation, user: User, category: str, urgency: str, summary: str, at: dt.datetime) -> Any:
    return services.ticket_raise(
        school=school,
        raised_by=user,
        category=category,
        urgency=urgency,
        summary=summary,
        description="Raised in the demo: no pupil, parent or staff details here.",
        actor=Actor.of_user(user, organisation_id=school.id),
        now=at,
    )
