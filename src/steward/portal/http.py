"""The portal's request type: what `portal.auth.parent_required` adds to a `StewardRequest`."""

from __future__ import annotations

from steward.audit.actor import Actor
from steward.core.http import StewardRequest
from steward.portal.models import ParentAccount


class ParentRequest(StewardRequest):
    """A request `parent_required` let through: `parent` is the signed-in, open account."""

    parent: ParentAccount


def parent_actor(request: ParentRequest) -> Actor:
    """The signed-in parent account as the actor of a portal action: never a staff user who may
    share the browser session (which is why this is not `actor_from_request`)."""
    return Actor(
        label=f"parent account {request.parent.pk}",
        request_id=getattr(request, "request_id", ""),
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
