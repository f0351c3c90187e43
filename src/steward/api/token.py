"""The OAuth 2.0 token endpoint, with guessing of client secrets refused.

django-oauth-toolkit's `TokenView` checks the client's secret (Argon2 or PBKDF2, so slow by
design) as often as it is asked. Refused requests are counted per client id and per address
(`core.ratelimit`); once either has failed too often, requests are answered 429 with
Retry-After and an RFC 6749-style JSON error before any secret is checked. A client that
authenticates writes nothing, so agents fetching tokens on schedule are never counted.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from oauth2_provider.views import TokenView

from steward.audit.services import audit_request
from steward.core import ratelimit


def _client_id(request: HttpRequest) -> str:
    """The client id the request claims: HTTP Basic (form-encoded, RFC 6749 2.3.1) or the body."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return unquote(decoded.partition(":")[0].replace("+", " "))
    return str(request.POST.get("client_id", ""))


def _limits(request: HttpRequest) -> list[tuple[str, str]]:
    keys = [("oauth_token_address", ratelimit.address_key(request))]
    if client_id := _client_id(request)[:200]:
        keys.append(("oauth_token_client", f"client:{client_id}"))
    return keys


def _too_many(decision: ratelimit.Decision) -> HttpResponse:
    body = {
        "error": "slow_down",  # the registered OAuth code for "too fast" (RFC 8628 3.5)
        "error_description": f"too many refused token requests; retry after {decision.retry_after} seconds",
    }
    response = HttpResponse(json.dumps(body), status=429, content_type="application/json")
    response["Retry-After"] = str(decision.retry_after)
    response["Cache-Control"] = "no-store"
    return response


class ThrottledTokenView(TokenView):  # type: ignore[misc]  # django-oauth-toolkit ships no types
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limits = _limits(request)
        for name, key in limits:
            if not (refused := ratelimit.refusal(name, key)).allowed:
                return _too_many(refused)
        response: HttpResponse = super().post(request, *args, **kwargs)
        if response.status_code in (400, 401):
            for name, key in limits:
                if ratelimit.hit(name, key).just_locked:
                    audit_request(
                        request,
                        action="oauth_token_locked",
                        detail={"limit": name, "client_id": _client_id(request)[:200]},
                    )
        return response
