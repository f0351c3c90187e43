"""Session limits on every request: inactivity (staff 30 minutes, parents 60) and 12 hours in all.

Runs right after Django's `SessionMiddleware`, before authentication reads the session: a session
past a limit is ended and emptied here, so the request goes on signed out and the page it asked for
sends it to sign in (`services.expire` audits it). The times are in the session already loaded (no
query); `last_seen_at` and the session are written at most once a minute (`services.touch`), and
that write also notices a session ended elsewhere. A signed-in session without a record (one made
before this app) is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY as STAFF_SESSION_KEY
from django.http import HttpRequest, HttpResponse

from steward.audit.actor import actor_from_request
from steward.signins import services
from steward.signins.models import EndReason, Kind

# The portal keeps its parent's account id under this session key (`portal.auth.SESSION_KEY`; the
# portal sits above this app, so the name is repeated here and a test checks the two agree).
PARENT_SESSION_KEY = "portal_parent"


def _over_limit(entries: dict[str, dict[str, float]], now: float) -> str:
    for kind, entry in entries.items():
        if now - float(entry["started"]) > int(settings.STEWARD_SESSION_ABSOLUTE):
            return EndReason.ABSOLUTE
        if now - float(entry["seen"]) > services.idle_limit(kind):
            return EndReason.IDLE
    return ""


class SessionLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session = request.session
        entries = services.entries_of(request)
        now = time.time()
        if entries:
            why = _over_limit(entries, now)
            if why:
                # Authentication has not run yet: the actor is nobody, from the request's address.
                services.expire(request, why, actor=actor_from_request(request))
                return
            due = now - min(float(e["seen"]) for e in entries.values()) >= services.TOUCH_SECONDS
            if due and not services.touch(request, entries):
                session.flush()  # ended elsewhere: this browser is signed out
                return
        staff_id = session.get(STAFF_SESSION_KEY)
        if staff_id and Kind.STAFF not in entries:
            services.adopt(request, kind=Kind.STAFF, owner_id=int(staff_id))
        parent_id = session.get(PARENT_SESSION_KEY)
        if parent_id and Kind.PARENT not in entries:
            services.adopt(request, kind=Kind.PARENT, owner_id=int(parent_id))
