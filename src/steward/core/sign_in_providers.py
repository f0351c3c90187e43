"""The identity providers staff may sign in to Steward with (Microsoft 365, Google): configuration.

The ICT service lists them in `STEWARD_SIGN_IN_PROVIDERS`, a JSON array, because each one is a
contract between the ICT service and a school's tenant (an app registration in Entra ID, an OAuth
client in Google Workspace) made outside Steward, and its client secret belongs with the other
secrets of the deployment rather than in the database:

    [{"key": "oakfield-m365", "name": "Oakfield School (Microsoft 365)",
      "issuer": "https://login.microsoftonline.com/<tenant id>/v2.0",
      "client_id": "...", "client_secret": "...",
      "domains": ["oakfield.sch.uk"], "email_claim": "preferred_username", "vouches_for_domains": true}]

Parsed once when the settings load, so a mistake stops the server with a sentence naming the
provider and the field, not at a person's first sign-in. The rules that use it are
`backoffice/auth.py`'s; the protocol is `backoffice/identity_providers.py`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL_CLAIMS = ("email", "preferred_username")
_FIELDS = {
    "key",
    "name",
    "issuer",
    "client_id",
    "client_secret",
    "domains",
    "email_claim",
    "vouches_for_domains",
    "trust_mfa",
}


@dataclass(frozen=True)
class SignInProvider:
    """One identity provider: what the sign-in page shows and what Steward believes of its tokens.

    `domains`: the only email domains whose addresses this provider may sign in.
    `email_claim`: which ID-token claim carries the address (`preferred_username` for Entra ID,
    where it is the user principal name, whose domain the tenant must have verified).
    `vouches_for_domains`: the provider is the authority for those domains (a single-tenant Entra
    issuer whose verified domains they are), so an address there counts as verified without an
    `email_verified` claim; otherwise `email_verified` must be true.
    `trust_mfa`: an `amr` claim asserting several factors stands for Steward's own code step.
    """

    key: str
    name: str
    issuer: str
    client_id: str
    client_secret: str
    domains: tuple[str, ...]
    email_claim: str = "email"
    vouches_for_domains: bool = False
    trust_mfa: bool = True

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def parse(text: str) -> tuple[SignInProvider, ...]:
    """The providers in `text` (the JSON of `STEWARD_SIGN_IN_PROVIDERS`); a mistake raises
    ImproperlyConfigured naming the provider and the field."""
    if not text.strip():
        return ()
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"STEWARD_SIGN_IN_PROVIDERS is not JSON: {error}") from None
    if not isinstance(entries, list):
        raise ImproperlyConfigured("STEWARD_SIGN_IN_PROVIDERS must be a JSON array of providers")
    providers = tuple(_provider(entry, index) for index, entry in enumerate(entries))
    keys = [p.key for p in providers]
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured("STEWARD_SIGN_IN_PROVIDERS: two providers have the same key")
    return providers


def _provider(entry: Any, index: int) -> SignInProvider:
    where = f"STEWARD_SIGN_IN_PROVIDERS[{index}]"
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{where} must be an object")
    if unknown := set(entry) - _FIELDS:
        raise ImproperlyConfigured(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for field in ("key", "name", "issuer", "client_id", "client_secret"):
        if not isinstance(entry.get(field), str) or not entry[field].strip():
            raise ImproperlyConfigured(f"{where}: {field} must be a non-empty string")
    where = f"{where} ({entry['key']})"
    if not _KEY.match(entry["key"]):
        raise ImproperlyConfigured(f"{where}: key must be lower-case letters, digits and hyphens (it is in the URL)")
    _check_issuer(where, entry["issuer"])
    domains = entry.get("domains")
    if not isinstance(domains, list) or not domains:
        raise ImproperlyConfigured(f"{where}: domains must list the email domains this provider may sign in")
    for domain in domains:
        if not isinstance(domain, str) or not _DOMAIN.match(domain.lower()):
            raise ImproperlyConfigured(f"{where}: {domain!r} in domains is not an email domain")
    email_claim = entry.get("email_claim", "email")
    if email_claim not in EMAIL_CLAIMS:
        raise ImproperlyConfigured(f"{where}: email_claim must be one of {', '.join(EMAIL_CLAIMS)}")
    for flag in ("vouches_for_domains", "trust_mfa"):
        if not isinstance(entry.get(flag, False), bool):
            raise ImproperlyConfigured(f"{where}: {flag} must be true or false")
    if email_claim == "preferred_username" and not entry.get("vouches_for_domains", False):
        raise ImproperlyConfigured(
            f"{where}: preferred_username carries no email_verified claim, so it needs vouches_for_domains: true"
        )
    return SignInProvider(
        key=entry["key"],
        name=entry["name"].strip(),
        issuer=entry["issuer"].strip(),
        client_id=entry["client_id"].strip(),
        client_secret=entry["client_secret"],
        domains=tuple(sorted({d.lower() for d in domains})),
        email_claim=email_claim,
        vouches_for_domains=entry.get("vouches_for_domains", False),
        trust_mfa=entry.get("trust_mfa", True),
    )


def _check_issuer(where: str, issuer: str) -> None:
    """https, except plain http to a loopback address (the demo's and the tests' provider)."""
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return
    raise ImproperlyConfigured(f"{where}: issuer must be an https URL (plain http only on loopback)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
