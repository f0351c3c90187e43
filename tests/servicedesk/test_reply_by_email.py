"""Reply by email, end to end on real PostgreSQL and a real SMTP sink: the notification of a reply
carries a Reply-To naming the ticket and the person; the person's emailed answer, piped to
`steward servicedesk_mail`, joins the thread without the quoted text and tells the other side; a
forged or forwarded reply, a closed ticket, a lost role or a message we cannot read is bounced with
the right exit code, and nothing is written."""

from __future__ import annotations

import io
import sys
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from steward.audit.actor import Actor
from steward.servicedesk import services
from steward.servicedesk.models import Ticket, TicketMessage
from steward.servicedesk.reply_by_email import EX_DATAERR, EX_NOPERM, EX_NOUSER, Refused, new_text, receive
from steward.tenancy.models import Membership, Organisation, Role, User
from steward.tenancy.scope import estate_scope, tenant_scope
from tests import factories
from tests.notify_fixtures import SmtpSink
from tests.servicedesk.test_tickets import DESK, MONDAY, raise_ticket

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.time_machine(MONDAY),
    pytest.mark.usefixtures("reply_address"),
]


@pytest.fixture
def reply_address() -> Any:
    with override_settings(STEWARD_SERVICE_DESK_REPLY_ADDRESS="desk-reply@ict.invalid"):
        yield


@pytest.fixture
def alder() -> Organisation:
    return factories.school("Alder Primary", services_=DESK)


@pytest.fixture
def admin(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, alder, email="office@alder.invalid")


@pytest.fixture
def sam() -> User:
    return factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")


@pytest.fixture
def answered(
    alder: Organisation, admin: User, sam: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> tuple[Ticket, str]:
    """A ticket the desk has answered, and the Reply-To of the raiser's notification."""
    ticket = raise_ticket(alder, admin)
    smtp_sink.clear()
    _desk_replies(ticket, sam, django_capture_on_commit_callbacks)
    return ticket, smtp_sink.messages[0].message["Reply-To"]


def _desk_replies(ticket: Ticket, sam: User, capture: Any) -> None:
    with capture(execute=True), tenant_scope([ticket.school_id]):
        services.ticket_reply(
            ticket=ticket,
            author=sam,
            body="Please try the upload again.",
            from_processor=True,
            actor=Actor.of_user(sam),
        )


def _answer(to: str, sender: str, text: str, *, html_only: bool = False, attach: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = f"Office <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: RFA: new reply"
    if html_only:
        message.set_content(f"<p>{text}</p>", subtype="html")
    else:
        message.set_content(text)
    if attach:
        message.add_attachment(b"UPN,Name\n", maintype="text", subtype="csv", filename="pupils.csv")
    return bytes(message)


def _messages(ticket: Ticket) -> list[TicketMessage]:
    with estate_scope():
        return list(TicketMessage.objects.filter(ticket=ticket).order_by("id"))


def test_the_raiser_answers_by_email_and_the_desk_is_told(
    alder: Organisation, admin: User, sam: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = raise_ticket(alder, admin)
    smtp_sink.clear()
    _desk_replies(ticket, sam, django_capture_on_commit_callbacks)
    [told] = smtp_sink.messages
    reply_to = told.message["Reply-To"]
    assert reply_to.startswith(f"desk-reply+{ticket.pk}-{admin.pk}-") and reply_to.endswith("@ict.invalid")
    assert told.body.startswith("-- Reply above this line")

    answer = (
        "Tried again at 09:00, still rejected.\n\nOn Mon, 30 Nov 2026 at 10:00, Steward wrote:\n"
        f"> -- Reply above this line to add to the request --\n> There is a new reply on {ticket.reference}\n"
    )
    smtp_sink.clear()
    with django_capture_on_commit_callbacks(execute=True):
        added = receive(_answer(reply_to, "OFFICE@alder.invalid", answer))
    assert added.body == "Tried again at 09:00, still rejected."
    assert added.author_label == f"{admin} (by email)" and not added.from_processor
    # Nobody is assigned, so the desk's address hears of it, with its own reply address.
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["service-desk@steward.invalid"]]
    assert "Reply-To" not in smtp_sink.messages[0].message


def test_the_command_bounces_what_it_cannot_take_and_writes_nothing(
    answered: tuple[Ticket, str], alder: Organisation, admin: User, sam: User
) -> None:
    ticket, reply_to = answered
    before = len(_messages(ticket))

    def refused(raw: bytes) -> tuple[int, str]:
        with pytest.raises(Refused) as caught:
            receive(raw)
        return caught.value.code, str(caught.value)

    # Forwarded to someone else, who answers: the address is not theirs.
    assert refused(_answer(reply_to, "someone@elsewhere.invalid", "Me too"))[0] == EX_NOPERM
    # A forged address for another person on the same ticket.
    forged = reply_to.replace(f"-{admin.pk}-", f"-{sam.pk}-")
    assert refused(_answer(forged, "sam@ict.invalid", "Fixed"))[0] == EX_NOUSER
    # An address with no sub-address at all.
    assert refused(_answer("desk-reply@ict.invalid", "office@alder.invalid", "Hello"))[0] == EX_NOUSER
    # HTML only: not read.
    code, why = refused(_answer(reply_to, "office@alder.invalid", "Hi", html_only=True))
    assert code == EX_DATAERR and "plain-text" in why
    # Quoted text only: an empty reply is refused by the same check as the back office's.
    code, why = refused(_answer(reply_to, "office@alder.invalid", "> quoted\n"))
    assert code == EX_DATAERR and "Enter your reply" in why
    assert len(_messages(ticket)) == before

    # The command: exit status and reason for the mail server, nothing written.
    sys_stdin = sys.stdin
    try:
        sys.stdin = io.TextIOWrapper(io.BytesIO(_answer(reply_to, "someone@elsewhere.invalid", "Me too")))
        with pytest.raises(SystemExit) as exited:
            call_command("servicedesk_mail")
        assert exited.value.code == EX_NOPERM
        sys.stdin = io.TextIOWrapper(io.BytesIO(_answer(reply_to, "office@alder.invalid", "Still failing")))
        out = io.StringIO()
        call_command("servicedesk_mail", stdout=out)
    finally:
        sys.stdin = sys_stdin
    assert f"Added to {ticket.reference}" in out.getvalue()
    assert [m.body for m in _messages(ticket)][-1] == "Still failing"


def test_attachments_are_not_taken_and_a_lost_role_or_a_closed_ticket_bounces(
    answered: tuple[Ticket, str], alder: Organisation, admin: User, sam: User
) -> None:
    ticket, reply_to = answered
    added = receive(_answer(reply_to, "office@alder.invalid", "The file is attached", attach=True))
    assert added.body.startswith("The file is attached") and "attachments, which were not taken" in added.body

    Membership.objects.filter(user=admin).delete()
    with pytest.raises(Refused) as caught:
        receive(_answer(reply_to, "office@alder.invalid", "Any news?"))
    assert caught.value.code == EX_NOPERM
    Membership.objects.create(user=admin, organisation=alder, role=Role.SCHOOL_ADMIN)
    with tenant_scope([alder.id]):
        services.ticket_resolve(ticket=ticket, note="Key renewed", actor=Actor.of_user(sam))
        services.ticket_close(ticket=Ticket.objects.get(pk=ticket.pk), actor=Actor.of_user(sam))
    with pytest.raises(Refused) as caught:
        receive(_answer(reply_to, "office@alder.invalid", "Any news?"))
    assert caught.value.code == EX_DATAERR and "closed" in str(caught.value)


def test_off_unless_switched_on() -> None:
    with override_settings(STEWARD_SERVICE_DESK_REPLY_ADDRESS=""), pytest.raises(Refused) as caught:
        receive(b"From: a@b.invalid\r\nTo: desk-reply+1-1-00000000000000000000@ict.invalid\r\n\r\nHi\r\n")
    assert caught.value.code == EX_NOUSER and "not switched on" in str(caught.value)


def test_quoted_text_is_cut() -> None:
    assert new_text("Yes.\r\n\r\n-----Original Message-----\r\nFrom: Steward") == "Yes."
    assert new_text("Line one\n> quoted\nLine two") == "Line one\nLine two"
    assert new_text("Done\n\n-- Reply above this line to add to the request --\nold") == "Done"
