"""The demo's service desk: requests for assistance at different stages, one of them past its
service level, raised and answered through `servicedesk.services` like any other (relative to the
day the demo is loaded, so one is always breached), and three investigation copies made through
`servicedesk.copies`: one awaiting the school's decision, one live, one destroyed with its proof.

Loaded once, inside the demo's privacy step (`steward demo` skips that step when the credentials
file already has it), so a second start makes none of these again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_record
from steward.demo.loader import DEFAULT_BASE_URL
from steward.mis.models import Learner
from steward.servicedesk import copies, services, support
from steward.servicedesk.models import InvestigationCopy, Ticket
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope


def load_demo_tickets(school: Organisation, staff: dict[str, User]) -> dict[str, Any]:
    """Five tickets at Oakwood Special School (every demo school's contract includes the service desk):
    new and past its service level, with a copy awaiting the school's decision; in progress with the
    desk's reply; resolved (with a past support-access grant and its read list, and a live copy for
    the MIS vendor); new and in time; resolved a month ago, its copy destroyed when the school
    withdrew its consent. Returns what the credentials file says about them."""
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
        awaiting = _awaiting_copy(breached, desk, now - dt.timedelta(days=6))
        live = _live_copy(resolved, desk, dpo, now - dt.timedelta(days=2))
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
        destroyed = _destroyed_copy(school, admin, dpo, desk, now)
    return {
        "school_url": f"{DEFAULT_BASE_URL}/school/service-desk/",
        "queue_url": f"{DEFAULT_BASE_URL}/processor/service-desk/",
        "note": f"{school.name} has raised requests under "
        "Service desk; the ICT service's staff (Tom Baker, Priya Shah) work "
        f"the queue, where {breached.reference} is past its service level. Under Support access, "
        f"{grant.reference} is a past grant to Tom Baker for {resolved.reference}, with what he read. "
        f"Investigation copies (as Oakwood's DPO under Service desk, each on its request's page): "
        f"{awaiting.reference} awaits Oakwood's decision, {live.reference} is live, {destroyed.reference} "
        "was destroyed when Oakwood withdrew its consent, with its proof.",
        "support_access_url": f"{DEFAULT_BASE_URL}/school/support-access/{grant.pk}/",
        "copies": {
            status: f"{DEFAULT_BASE_URL}/school/service-desk/{copy.ticket_id}/copies/{copy.pk}/"
            for status, copy in (("awaiting", awaiting), ("live", live), ("destroyed", destroyed))
        },
    }


def _awaiting_copy(ticket: Ticket, desk: User, at: dt.datetime) -> InvestigationCopy:
    """Contacts are outside Oakwood's standing consent, so the request waits for the school."""
    return copies.copy_request(
        ticket=ticket,
        reason="See which parents' portal accounts are linked to which pupils' contacts",
        record_types=["contacts", "learner-contacts"],
        recipient="processor",
        actor=Actor.of_user(desk),
        now=at,
    )


def _live_copy(ticket: Ticket, desk: User, dpo: User, at: dt.datetime) -> InvestigationCopy:
    """For the MIS vendor (the standing consent names the ICT service only): the DPO narrows it to
    pupils and enrolments. It lives until 90 days after its ticket is resolved."""
    copy = copies.copy_request(
        ticket=ticket,
        reason="The MIS vendor needs the rejected upload's pupils and enrolments to reproduce the fault",
        record_types=["learners", "school-enrolments", "contacts"],
        recipient="mis_vendor",
        vendor_name="Demo MIS Ltd",
        actor=Actor.of_user(desk),
        now=at,
    )
    return copies.copy_approve(
        copy=copy,
        record_types=["learners", "school-enrolments"],
        real_identities=False,
        actor=Actor.of_user(dpo, organisation_id=ticket.school_id),
        now=at + dt.timedelta(hours=1),
    )


def _destroyed_copy(school: Organisation, admin: User, dpo: User, desk: User, now: dt.datetime) -> InvestigationCopy:
    """A request raised 40 days ago, a copy made for the MIS vendor the next day, the request
    resolved 30 days ago, and the copy destroyed 25 days ago when the school withdrew its consent
    (which keeps a proof of the destruction: `copies.destroy`)."""
    raised = now - dt.timedelta(days=40)
    ticket = _raise(school, admin, "mis_feed", "normal", "Attendance marks duplicated after the MIS upgrade", raised)
    services.ticket_assign(ticket=ticket, assignee=desk, actor=Actor.of_user(desk))
    services.ticket_reply(
        ticket=ticket,
        author=desk,
        body="We have asked the MIS vendor to look at the duplicated marks.",
        from_processor=True,
        actor=Actor.of_user(desk),
        now=raised + dt.timedelta(hours=2),
    )
    copy = copies.copy_request(
        ticket=ticket,
        reason="The MIS vendor needs the duplicated attendance marks to find the fault in its upgrade",
        record_types=["learners", "session-attendance"],
        recipient="mis_vendor",
        vendor_name="Demo MIS Ltd",
        actor=Actor.of_user(desk),
        now=raised + dt.timedelta(days=1),
    )
    school_dpo = Actor.of_user(dpo, organisation_id=school.id)
    copies.copy_approve(
        copy=copy,
        record_types=copy.requested_types,
        real_identities=False,
        actor=school_dpo,
        now=raised + dt.timedelta(days=1, hours=2),
    )
    services.ticket_resolve(
        ticket=ticket,
        note="The vendor's patch removes the duplicates.",
        actor=Actor.of_user(desk),
        now=now - dt.timedelta(days=30),
    )
    return copies.copy_withdraw(copy=copy, actor=school_dpo, now=now - dt.timedelta(days=25))


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
