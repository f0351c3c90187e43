"""OAuth 2.0 client-credentials authentication for API endpoints (django-oauth-toolkit)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer
from oauth2_provider.oauth2_backends import get_oauthlib_core

from steward.tenancy.models import ApiClient


class ClientCredentials(HttpBearer):
    """A bearer token issued to a Steward API client of the given kind, with the given scope."""

    def __init__(self, *, kind: str, scope: str) -> None:
        super().__init__()
        self.kind = kind
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[self.scope])
        if not valid:
            return None
        application: Any = oauth_request.access_token.application
        client = ApiClient.objects.select_related("school", "application").filter(application=application).first()
        if client is None or client.kind != self.kind:
            return None
        request.api_client = client  # type: ignore[attr-defined]
        return client


mis_agent = ClientCredentials(kind=ApiClient.Kind.MIS_AGENT, scope="ingest")
recipient_client = ClientCredentials(kind=ApiClient.Kind.RECIPIENT, scope="read")


def bearer_client(request: HttpRequest, *, kind: str) -> tuple[ApiClient, frozenset[str]] | None:
    """The client of a valid bearer token and the scopes the token carries, whatever they are: for
    APIs (OneRoster) that answer 401 to a missing or bad token but 403 to a token lacking a scope."""
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        return None
    token: Any = oauth_request.access_token
    client = ApiClient.objects.select_related("application").filter(application=token.application).first()
    if client is None or client.kind != kind:
        return None
    request.api_client = client  # type: ignore[attr-defined]
    return client, frozenset(token.scope.split())
