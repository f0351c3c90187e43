"""Replying to a ticket by email: the optional reply address of issue #15.

Why it works this way:
- A notification of a reply goes to one person (the school's raiser, or the ticket's assignee). When
  the ICT service sets `STEWARD_SERVICE_DESK_REPLY_ADDRESS` (e.g. `desk-reply@ict.example`), that
  email's Reply-To is a sub-address naming the ticket and that person, with a MAC made with the
  server's secret key (`desk-reply+12-34-<mac>@ict.example`). Nobody can forge an address for
  another ticket or person, and the address says nothing about the ticket's content.
- The mail server hands each message for the address to `steward servicedesk_mail` on standard
  input (Postfix's `pipe`, Exim's `pipe` transport, fetchmail's `--mda`): the command is the whole
  inbound side, so Steward runs no mail server of its own.
- The message is taken only if the MAC is right, the From address is the person's (the address alone
  is a bearer token: a forwarded email must not let someone else reply), the person is still active
  and still allowed on the ticket (the school's admin or DPO, or the ICT service's staff), and the
  ticket is open. It then goes through `ticket_reply`, like a reply typed in the back office: the
  same checks, the same audit and the same notification of the other side.
- Only the new text is kept: the quoted thread below it (lines starting with ">", and everything
  from the "On ... wrote:" line or our marker) is cut, so an email client's quoting does not copy the
  thread into itself. Attachments in the email are not taken (they are not scanned); the sender is
  told so in the reply's text.
- Refusals exit with the sysexits code an MTA understands (65: not a message we can read, 67: no
  such address, 77: not allowed), so the sender gets a bounce saying why; nothing is written.
"""

from __future__ import annotations

import email
import email.policy
import hmac
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError

from steward.audit.actor import Actor
from steward.servicedesk import services
from steward.servicedesk.deciders import decides_for
from steward.servicedesk.models import Ticket, TicketMessage
from steward.servicedesk.reply_addresses import ADDRESS, MARKER, mac
from steward.tenancy.models import User
from steward.tenancy.scope import estate_scope, tenant_scope
from steward.tenancy.selectors import processor_roles

EX_DATAERR = 65
EX_NOUSER = 67
EX_NOPERM = 77
MAX_BYTES = 1_000_000
_WROTE = re.compile(r"^\s*(On .+wrote:|-----\s*Original Message\s*-----|From: .+)\s*$", re.IGNORECASE)


class Refused(Exception):
    """The message is not taken: `code` is the sysexits status the mail server bounces with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Addressed:
    ticket_id: int
    user_id: int


def _addressed(message: EmailMessage) -> Addressed:
    """The ticket and person the message was sent to, from whichever header the mail server kept."""
    base = settings.STEWARD_SERVICE_DESK_REPLY_ADDRESS
    # Each header parsed on its own: an empty one in the list makes `getaddresses` give up on all.
    headers = [str(message[h]) for h in ("Delivered-To", "X-Original-To", "To", "Cc") if message[h]]
    for _, address in (pair for header in headers for pair in getaddresses([header])):
        found = ADDRESS.match(address.strip().lower())
        if not found or f"{found['local']}@{found['domain']}" != base.lower():
            continue
        ticket_id, user_id = int(found["ticket"]), int(found["user"])
        if not hmac.compare_digest(found["mac"], mac(ticket_id, user_id)):
            raise Refused(EX_NOUSER, f"{address} is not a reply address Steward gave out")
        return Addressed(ticket_id, user_id)
    raise Refused(EX_NOUSER, f"The message is not addressed to a reply address of {base}")


def new_text(body: str) -> str:
    """The reply without the quoted thread under it."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.lstrip("> \t").strip() == MARKER or _WROTE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _plain_text(message: EmailMessage) -> tuple[str, bool]:
    """(the text/plain body, whether the message carried attachments)."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        raise Refused(EX_DATAERR, "The message has no plain-text part: send it as plain text, or reply in Steward")
    attached = any(True for _ in message.iter_attachments())
    return str(part.get_content()), attached  # type: ignore[attr-defined]


def _allowed(user: User, ticket: Ticket) -> bool:
    """True for the ICT service's staff; the school's admins and DPOs; None of anyone else."""
    if processor_roles(user=user):
        return True
    return decides_for(user, ticket.school_id)


def receive(raw: bytes) -> TicketMessage:
    """Take one inbound email as a reply on its ticket, or raise `Refused` having written nothing."""
    if not settings.STEWARD_SERVICE_DESK_REPLY_ADDRESS:
        raise Refused(EX_NOUSER, "Reply by email is not switched on (STEWARD_SERVICE_DESK_REPLY_ADDRESS)")
    if len(raw) > MAX_BYTES:
        raise Refused(EX_DATAERR, f"The message is over {MAX_BYTES // 1_000_000} MB: reply in Steward instead")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        raise Refused(EX_DATAERR, "That is not an email message")
    to = _addressed(message)
    user = User.objects.filter(pk=to.user_id, is_active=True).first()
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    if user is None or sender != user.email.lower():
        raise Refused(EX_NOPERM, f"Replies to this address are taken only from the person it was sent to, not {sender}")
    with estate_scope():
        ticket = Ticket.objects.filter(pk=to.ticket_id).first()
    if ticket is None:
        raise Refused(EX_NOUSER, "That request for assistance no longer exists")
    if not _allowed(user, ticket):
        raise Refused(EX_NOPERM, f"{user.email} may no longer reply on {ticket.reference}")
    body, attached = _plain_text(message)
    text = new_text(body)
    if attached:
        text += "\n\n(Sent by email with attachments, which were not taken: add them in Steward.)"
    from_processor = bool(processor_roles(user=user))
    actor = Actor.of_user(user).labelled(f"{user} (by email)")
    try:
        with tenant_scope([ticket.school_id]):
            return services.ticket_reply(
                ticket=ticket, author=user, body=text, from_processor=from_processor, actor=actor
            )
    except ValidationError as refused:
        raise Refused(EX_DATAERR, " ".join(refused.messages)) from refused
