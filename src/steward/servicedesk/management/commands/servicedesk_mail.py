"""`steward servicedesk_mail`: take one inbound email (on standard input) as a reply on its ticket.

The mail server pipes each message for `STEWARD_SERVICE_DESK_REPLY_ADDRESS`'s sub-addresses here.
The exit status is what the mail server acts on: 0 delivered; 65, 67 or 77 bounce to the sender
with the reason printed on standard error (`servicedesk.reply_by_email` says which is which).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from steward.servicedesk.reply_by_email import MAX_BYTES, Refused, receive


class Command(BaseCommand):
    help = "Add an emailed reply (read from standard input) to its service desk ticket."

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        try:
            message = receive(raw)
        except Refused as refused:
            self.stderr.write(str(refused))
            sys.exit(refused.code)
        self.stdout.write(f"Added to {message.ticket.reference} as message {message.pk}")
