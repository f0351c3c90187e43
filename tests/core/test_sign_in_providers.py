"""`STEWARD_SIGN_IN_PROVIDERS`: a mistake stops the settings with a sentence naming the provider
and the field, rather than surfacing at someone's first sign-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from steward.core.sign_in_providers import SignInProvider, parse

ENTRA: dict[str, Any] = {
    "key": "oakfield-m365",
    "name": "Oakfield School (Microsoft 365)",
    "issuer": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
    "client_id": "0f1e2d3c",
    "client_secret": "secret-from-entra",
    "domains": ["Oakfield.sch.uk", "staff.oakfield.sch.uk"],
    "email_claim": "preferred_username",
    "vouches_for_domains": True,
}


def test_nothing_configured_is_no_provider() -> None:
    assert parse("") == ()


def test_an_entra_provider_is_read_with_its_domains_in_lower_case() -> None:
    [provider] = parse(json.dumps([ENTRA]))
    assert provider == SignInProvider(
        key="oakfield-m365",
        name="Oakfield School (Microsoft 365)",
        issuer=ENTRA["issuer"],
        client_id="0f1e2d3c",
        client_secret="secret-from-entra",
        domains=("oakfield.sch.uk", "staff.oakfield.sch.uk"),
        email_claim="preferred_username",
        vouches_for_domains=True,
        trust_mfa=True,
    )
    assert provider.discovery_url == ENTRA["issuer"] + "/.well-known/openid-configuration"


def test_plain_http_is_allowed_only_on_loopback() -> None:
    assert parse(json.dumps([ENTRA | {"issuer": "http://127.0.0.1:8400"}]))[0].issuer == "http://127.0.0.1:8400"
    with pytest.raises(ImproperlyConfigured, match=r"\(oakfield-m365\): issuer must be an https URL"):
        parse(json.dumps([ENTRA | {"issuer": "http://login.example.org"}]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_secret": ""}, r"\[0\]: client_secret must be a non-empty string"),
        ({"key": "Oak Field"}, r"key must be lower-case letters, digits and hyphens"),
        ({"domains": []}, r"domains must list the email domains"),
        ({"domains": ["not a domain"]}, r"'not a domain' in domains is not an email domain"),
        ({"email_claim": "upn"}, r"email_claim must be one of email, preferred_username"),
        ({"vouches_for_domains": False}, r"preferred_username carries no email_verified claim"),
        ({"trust_mfa": "yes"}, r"trust_mfa must be true or false"),
        ({"tenant": "x"}, r"unknown field\(s\) tenant"),
    ],
)
def test_a_mistake_names_the_provider_and_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse(json.dumps([ENTRA | change]))


def test_two_providers_with_one_key_and_malformed_json_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="two providers have the same key"):
        parse(json.dumps([ENTRA, ENTRA]))
    with pytest.raises(ImproperlyConfigured, match="is not JSON"):
        parse("[{")
    with pytest.raises(ImproperlyConfigured, match="must be a JSON array"):
        parse(json.dumps(ENTRA))
