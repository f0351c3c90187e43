"""The request as Steward's middleware leaves it, so views are typed instead of `# type: ignore`d.

Django's `HttpRequest` knows nothing of the attributes our middleware sets; declaring them on a
subclass lets mypy check every use. Nothing constructs these classes: a view annotates its
argument with the one that describes the requests routed to it. Attributes that name a higher
layer's model are declared by that layer's subclass (`portal.http.ParentRequest`,
`tenancy.http.ApiRequest`), so this ground-floor module imports nothing above it.
"""

from __future__ import annotations

from django.http import HttpRequest


class StewardRequest(HttpRequest):
    """Every request: its id (`core.middleware.RequestIdMiddleware`) and the school the signed-in
    staff user has chosen with their roles there (`tenancy.middleware.TenantScopeMiddleware`; None
    and empty for everyone else)."""

    request_id: str
    school_id: int | None
    school_roles: set[str]
    # A processor user's live support window (`tenancy.SupportWindow`): its grant's reference, or "".
    support_grant: str
    # What that grant lets the user read (areas and MIS record types); empty without one.
    support_scope: frozenset[str]
