"""The reply address of a ticket's notification (`reply_by_email` explains the scheme).

Its own module because both sides need it: `services` puts it on the emails it sends, and
`reply_by_email` checks it on the emails that come back.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.crypto import salted_hmac

from steward.servicedesk.models import Ticket
from steward.tenancy.models import User

_SALT = "steward.servicedesk.reply_by_email"
# The line a notification starts with when it can be answered: the reply is what is above it.
MARKER = "-- Reply above this line to add to the request --"
ADDRESS = re.compile(r"^(?P<local>[^+@]+)\+(?P<ticket>\d+)-(?P<user>\d+)-(?P<mac>[0-9a-f]{20})@(?P<domain>.+)$")


def mac(ticket_id: int, user_id: int) -> str:
    return salted_hmac(_SALT, f"{ticket_id}-{user_id}", algorithm="sha256").hexdigest()[:20]


def reply_address(ticket: Ticket, user: User | None) -> str:
    """The Reply-To of a notification about `ticket` sent to `user`; "" when reply by email is off."""
    base = settings.STEWARD_SERVICE_DESK_REPLY_ADDRESS
    if not base or user is None or "@" not in base:
        return ""
    local, domain = base.rsplit("@", 1)
    return f"{local}+{ticket.pk}-{user.pk}-{mac(ticket.pk, user.pk)}@{domain}"
