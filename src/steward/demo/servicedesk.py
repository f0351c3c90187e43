"""The demo's service desk: requests for assistance at different stages, one of them past its
service level, raised and answered through `servicedesk.services` like any other (relative to the
day the demo is loaded, so one is always breached)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from steward.audit.actor import Actor
from steward.demo.loader import DEFAULT_BASE_URL
from steward.servicedesk import services
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope


def load_demo_tickets(school: Organisation, staff: dict[str, User]) -> dict[str, Any]:
    """Four tickets at Oakwood Special School (every demo school's contract includes the service desk):
    new and past its service level; in progress with the desk's reply; resolved; new and in time.
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
        f"the queue, where {breached.reference} is past its service level.",
    }


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
