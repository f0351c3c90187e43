"""Telling the processor's staff what a school decided on their request (an investigation copy, support
access): the user who asked and the ticket's assignee, each once, after the decision commits. A
refusal otherwise sits unread on a page while the investigation waits for it."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction

from steward.notifications.email import send_email
from steward.servicedesk.models import Ticket
from steward.tenancy.models import User


def tell_processor(ticket: Ticket | None, asked_by: User | None, subject: str, body: str) -> None:
    """Email `subject` and `body`, with a link to the ticket on the desk, to whoever asked and to the
    ticket's assignee if someone else. Summaries only: no MIS data goes by email."""
    people = [asked_by, ticket.assignee if ticket is not None else None]
    addresses = list(dict.fromkeys(p.email for p in people if p is not None and p.email))
    if ticket is not None:
        body = f"{body}\n{settings.STEWARD_BASE_URL}/processor/service-desk/{ticket.pk}/\n"
    for address in addresses:
        transaction.on_commit(partial(send_email, address, subject, body))
