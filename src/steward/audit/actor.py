"""Who did something, as the audit log records it: a small typed value, not the web request.

Services that change data write their own audit event (DESIGN.md "Services audit; views don't"),
so the back office, the API, the portal, a command and a scheduled task are audited the same way.
A service cannot read an `HttpRequest` (a command has none), so each edge builds an `Actor` once,
with `actor_from_request`, and passes it down; a command or task names itself with `Actor.system`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    """The person or client acting, for which organisation, and from where.

    `label` is also what a service writes into its own history rows (a flow's or a rights
    request's events), so the history and the audit log name the actor alike.
    """

    label: str
    user_id: int | None = None
    client: str = ""
    organisation_id: int | None = None
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def system(cls, label: str = "Steward", *, organisation_id: int | None = None) -> Actor:
        """A command, a scheduled task or the demo: no person, no address."""
        return cls(label=label, organisation_id=organisation_id)

    @classmethod
    def of_user(cls, user: object, *, organisation_id: int | None = None) -> Actor:
        """A person acting outside a web request (a command, the demo, a test's setup)."""
        return cls(label=str(user), user_id=getattr(user, "pk", None), organisation_id=organisation_id)

    def labelled(self, label: str) -> Actor:
        """The same actor under another label (e.g. "Ann Lee for Acme Ltd" when recording for someone)."""
        return Actor(
            label=label,
            user_id=self.user_id,
            client=self.client,
            organisation_id=self.organisation_id,
            request_id=self.request_id,
            ip_address=self.ip_address,
            user_agent=self.user_agent,
        )


def actor_from_request(request: HttpRequest) -> Actor:
    """The one place an edge turns a request into an actor: a signed-in user (back office or
    portal) or an authenticated API client, acting for the school chosen in the session (if any)."""
    user = getattr(request, "user", None)
    client = getattr(request, "api_client", None)
    parent = getattr(request, "parent", None)
    client_id = client.application.client_id if client is not None else ""
    signed_in = user is not None and user.is_authenticated
    if signed_in:
        label = str(user)
    elif parent is not None:
        label = f"parent account {parent.pk}"
    else:
        label = f"API client {client_id}" if client_id else ""
    return Actor(
        label=label,
        user_id=user.pk if signed_in else None,  # type: ignore[union-attr]
        client=client_id,
        organisation_id=getattr(request, "school_id", None) or (client.school_id if client is not None else None),
        request_id=getattr(request, "request_id", ""),
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
