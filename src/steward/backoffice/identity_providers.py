"""OpenID Connect, relying-party side: send a person to their school's identity provider and read
the ID token it sends back. Which person that is, and whether they are signed in, is decided by
`backoffice/auth.py`; this module only speaks the protocol.

authlib's Django client does the protocol: discovery, the authorisation code flow with PKCE (S256),
`state` and `nonce` kept in the Django session (the one Steward's two-step sign-in already uses)
and used once, the code exchanged over the back channel, the ID token's signature checked against
the provider's JWKS (fetched again once when a token names a key it has not seen, which is how
providers rotate). On top of it we require what a library default would leave open: the issuer
the discovery document names must be the configured one, and the token's `iss`, `aud` (our client
id, not merely an `azp`), `exp` and `iat` are essential. Every failure comes back as a
`ProviderSignInError` whose `reason` is for the audit log and `message` for the person.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.http import HttpRequest, HttpResponse
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError

from steward.core.sign_in_providers import SignInProvider

TIMEOUT_SECONDS = 10
LEEWAY_SECONDS = 60  # clock difference tolerated between the provider and Steward
METADATA_SECONDS = 3600  # discovery documents are read again after an hour
SCOPE = "openid email profile"
STATE_PREFIX = "_state_steward-"  # authlib keeps a sign-in's state under "_state_<client name>_<state>"


class ProviderSignInError(Exception):
    """Signing in with a provider failed: `reason` for the audit log, `message` for the page."""

    def __init__(self, reason: str, message: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = status  # 400 for an answer we refuse, 502 for a provider we cannot use


@dataclass(frozen=True)
class Identity:
    """What a checked ID token says about the person."""

    claims: Mapping[str, Any]


_clients: dict[tuple[SignInProvider, int], Any] = {}


def _client(provider: SignInProvider) -> Any:
    """authlib's client for `provider`, kept for an hour so its discovery document and JWKS are
    read once an hour rather than at every sign-in."""
    period = int(time.time() // METADATA_SECONDS)
    cached = _clients.get((provider, period))
    if cached is None:
        _clients.clear()
        registry = OAuth()
        cached = registry.register(
            name=f"steward-{provider.key}",
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.discovery_url,
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "default_timeout": TIMEOUT_SECONDS},
        )
        _clients[(provider, period)] = cached
    return cached


def start(request: HttpRequest, provider: SignInProvider, redirect_uri: str) -> HttpResponse:
    """The redirect to the provider's authorisation endpoint (state, nonce and the PKCE verifier
    are kept in the session for `finish`)."""
    client = _client(provider)
    try:
        _check_metadata(provider, client.load_server_metadata())
        response: HttpResponse = client.authorize_redirect(request, redirect_uri)
    except (OSError, ValueError) as error:  # requests' errors are OSErrors; a bad JSON body a ValueError
        raise _unreachable(provider, error) from None
    return response


def finish(request: HttpRequest, provider: SignInProvider) -> Identity:
    """Exchange the code the provider sent back and check the ID token; raises ProviderSignInError."""
    if error := request.GET.get("error"):
        description = request.GET.get("error_description", "")[:200]
        raise ProviderSignInError(
            f"the provider answered {error[:50]}" + (f": {description}" if description else ""),
            f"{provider.name} did not sign you in. Try again, or sign in with your email address and password.",
        )
    client = _client(provider)
    claims_options = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    try:
        _check_metadata(provider, client.load_server_metadata())
        token = client.authorize_access_token(request, claims_options=claims_options, leeway=LEEWAY_SECONDS)
    except MismatchingStateError:
        raise ProviderSignInError(
            "the state did not match a sign-in started in this browser",
            f"Signing in with {provider.name} had expired or was already used. Start again.",
        ) from None
    except OAuthError as error:
        raise ProviderSignInError(
            f"the provider refused the code: {getattr(error, 'error', '')}",
            f"{provider.name} did not confirm the sign-in. Start again.",
        ) from None
    except (OSError, ValueError) as error:  # requests' errors are OSErrors; a bad JSON body a ValueError
        raise _unreachable(provider, error) from None
    except JoseError as error:
        raise _bad_token(provider, error) from None
    claims = token.get("userinfo")
    if not claims:
        raise ProviderSignInError(
            "the provider sent no ID token", f"{provider.name} did not say who you are, so you are not signed in."
        )
    return Identity(claims=dict(claims))


def _check_metadata(provider: SignInProvider, metadata: Mapping[str, Any]) -> None:
    """OpenID Connect Discovery: the document must name the issuer it was fetched for."""
    if metadata.get("issuer") != provider.issuer:
        raise ProviderSignInError(
            f"the discovery document names issuer {str(metadata.get('issuer'))[:200]!r}",
            f"{provider.name} is not set up correctly, so you cannot sign in with it. "
            "Tell the ICT service's service desk, and sign in with your email address and password.",
            status=502,
        )


def _unreachable(provider: SignInProvider, error: Exception) -> ProviderSignInError:
    return ProviderSignInError(
        f"the provider could not be reached: {type(error).__name__}",
        f"Steward could not reach {provider.name}. Try again later, or sign in with your email address and password.",
        status=502,
    )


def _bad_token(provider: SignInProvider, error: JoseError) -> ProviderSignInError:
    """An ID token that fails a check: the reason names the check, the page says it in words."""
    if isinstance(error, (BadSignatureError, InvalidKeyIdError)):
        what = "its signature is not the provider's"
    elif isinstance(error, ExpiredTokenError):
        what = "it had expired"
    elif isinstance(error, ClaimError):
        claim = error.claim
        what = {
            "iss": "it was issued by someone else",
            "aud": "it was issued for another service",
            "nonce": "it belongs to another sign-in",
            "azp": "it was issued for another service",
        }.get(claim, f"its {claim} claim is wrong")
    else:
        what = "it could not be read"
    return ProviderSignInError(
        f"the ID token was refused: {what} ({error.error})",
        f"Steward could not trust the answer from {provider.name}: {what}. You are not signed in. "
        "Try again; if this happens again, tell the ICT service's service desk.",
    )
