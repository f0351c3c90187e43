"""Staff sign in with their school's identity provider (OpenID Connect), against a real provider:
`steward.demo.sign_in_idp` on loopback, over real HTTP, signing real RS256 ID tokens.

The browser's legs (Steward → the provider's page → back) are the Django test client and httpx;
Steward's back-channel legs (discovery, JWKS, the token endpoint) are its own HTTP calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.http import HttpResponse
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.models import AuditEvent
from steward.backoffice import auth
from steward.core.sign_in_providers import SignInProvider
from steward.demo import sign_in_idp
from steward.tenancy.models import SignInProviderFactor, User
from steward.tenancy.scope import processor_scope
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "idp-client-secret"
NAME = "Alder Primary (Microsoft 365)"


@pytest.fixture(scope="module")
def running_idp() -> Iterator[sign_in_idp.SignInIdp]:
    idp = sign_in_idp.start(client_id="steward-test", client_secret=SECRET, name="Alder Primary")
    yield idp
    idp.stop()


@pytest.fixture
def idp(running_idp: sign_in_idp.SignInIdp) -> Iterator[sign_in_idp.SignInIdp]:
    running_idp.overrides = {}
    running_idp.sign_with_stranger_key = False
    yield running_idp
    running_idp.overrides = {}
    running_idp.sign_with_stranger_key = False


def _provider(idp: sign_in_idp.SignInIdp, **changes: Any) -> SignInProvider:
    fields: dict[str, Any] = {
        "key": "alder",
        "name": NAME,
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": SECRET,
        "domains": ("alder.invalid",),
    }
    return SignInProvider(**(fields | changes))


@pytest.fixture
def provider(idp: sign_in_idp.SignInIdp, settings: SettingsWrapper) -> SignInProvider:
    configured = _provider(idp)
    settings.SIGN_IN_PROVIDERS = (configured,)
    return configured


def provider_sign_in(client: Client, idp: sign_in_idp.SignInIdp, email: str, *, mfa: bool = False) -> HttpResponse:
    """The browser's journey: the button, the provider's page and form, and back to Steward."""
    start = client.get("/sign-in/with/alder/")
    assert start.status_code == 302, start.content[:500]
    authorize = start["Location"]
    assert authorize.startswith(f"{idp.issuer}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert (query["code_challenge_method"], query["response_type"]) == ("S256", "code")
    assert query["state"] and query["nonce"] and "openid" in query["scope"].split()
    page = httpx.get(authorize)
    assert page.status_code == 200, page.text
    form = {k: query[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge")}
    form["email"] = email
    if mfa:
        form["mfa"] = "yes"
    answer = httpx.post(f"{idp.issuer}/authorize", data=form)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    assert back.path == "/sign-in/with/alder/return/"
    return client.get(f"{back.path}?{back.query}")


def _events(action: str) -> list[AuditEvent]:
    with processor_scope():  # sign-ins belong to no school: the processor's events
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _verified(client: Client) -> bool:
    """Signed in with two factors: a school page sends the person to choose a school, not to sign in."""
    response = client.get("/school/people/")
    return response.status_code == 302 and response["Location"] == "/schools/"


def _nobody_signed_in(client: Client) -> bool:
    return "_auth_user_id" not in client.session and "steward_pending_user" not in client.session


def _refused(response: HttpResponse, status: int, words: str) -> None:
    text = response.content.decode()
    assert response.status_code == status, text[:2000]
    assert "There is a problem" in text and words in text, text[:3000]
    assert "<title>Error: " in text.replace("\n", "")


def test_the_sign_in_page_shows_a_button_for_each_provider(client: Client, provider: SignInProvider) -> None:
    text = client.get("/sign-in/?next=/school/").content.decode()
    assert f"Sign in with {NAME}" in text
    assert 'class="govuk-button govuk-button--secondary"' in text
    assert 'href="/sign-in/with/alder/?next=/school/"' in text


def test_a_provider_asserting_mfa_signs_the_person_in_without_our_code(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    response = provider_sign_in(client, idp, "Admin@Alder.invalid", mfa=True)
    assert (response.status_code, response["Location"]) == (302, "/")
    assert _verified(client)
    factor = SignInProviderFactor.objects.get(user=admin_a, provider="alder")
    assert client.session["otp_device_id"] == factor.persistent_id
    assert (factor.name, factor.confirmed) == (NAME, True)
    [event] = _events("sign_in")
    assert event.actor_user_id == admin_a.id
    assert event.detail == {
        "two_factor": "identity_provider",
        "enrolled_now": False,
        "provider": "alder",
        "amr": ["pwd", "mfa"],
    }


def test_without_mfa_the_person_goes_on_to_our_code_step(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    response = provider_sign_in(client, idp, "admin@alder.invalid")
    assert (response.status_code, response["Location"]) == (302, "/sign-in/verify/")
    assert "_auth_user_id" not in client.session
    assert not _verified(client)
    assert client.post("/sign-in/verify/", {"token": factories.current_code(admin_a)}).status_code == 302
    assert _verified(client)
    [event] = _events("sign_in")
    assert event.detail == {"two_factor": "totp", "enrolled_now": False, "provider": "alder"}
    assert not SignInProviderFactor.objects.exists()


def test_a_provider_not_trusted_for_mfa_still_goes_to_our_code_step(
    client: Client, idp: sign_in_idp.SignInIdp, settings: SettingsWrapper, admin_a: User
) -> None:
    settings.SIGN_IN_PROVIDERS = (_provider(idp, trust_mfa=False),)
    response = provider_sign_in(client, idp, admin_a.email, mfa=True)
    assert response["Location"] == "/sign-in/verify/"
    assert "_auth_user_id" not in client.session


def test_the_next_page_is_kept_through_the_provider(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    start = client.get("/sign-in/with/alder/?next=/school/people/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    form = {k: query[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge")}
    answer = httpx.post(f"{idp.issuer}/authorize", data=form | {"email": admin_a.email, "mfa": "yes"})
    back = urlsplit(answer.headers["location"])
    assert client.get(f"{back.path}?{back.query}")["Location"] == "/school/people/"


def test_entra_style_user_principal_name_from_a_provider_vouching_for_its_domain(
    client: Client, idp: sign_in_idp.SignInIdp, settings: SettingsWrapper, admin_a: User
) -> None:
    settings.SIGN_IN_PROVIDERS = (_provider(idp, email_claim="preferred_username", vouches_for_domains=True),)
    idp.overrides = {"email": None, "email_verified": None}
    response = provider_sign_in(client, idp, admin_a.email)
    assert response["Location"] == "/sign-in/verify/"


@pytest.mark.parametrize(
    ("amr", "several"),
    [
        (["pwd", "mfa"], True),
        (["mfa"], True),
        (["pwd", "otp"], True),
        (["pin", "hwk"], True),
        (["face", "swk"], True),
        (["pwd"], False),
        (["otp"], False),
        (["hwk", "swk"], False),
        ("mfa", False),
        (None, False),
    ],
)
def test_which_amr_values_count_as_several_factors(amr: object, several: bool) -> None:
    assert auth.asserts_several_factors(amr) is several


def test_an_unknown_email_is_refused_and_audited(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    response = provider_sign_in(client, idp, "nobody@alder.invalid", mfa=True)
    _refused(response, 403, "No Steward account uses nobody@alder.invalid")
    assert _nobody_signed_in(client)
    [event] = _events("sign_in_failed")
    assert event.detail == {
        "provider": "alder",
        "email": "nobody@alder.invalid",
        "reason": "no account uses the email address",
    }
    assert not _events("sign_in")


def test_an_unverified_email_is_refused(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    idp.overrides = {"email_verified": False}
    response = provider_sign_in(client, idp, admin_a.email, mfa=True)
    _refused(response, 403, f"{NAME} has not confirmed that admin@alder.invalid is yours")
    assert _nobody_signed_in(client)
    assert _events("sign_in_failed")[0].detail["reason"] == "the provider has not verified the email address"


def test_a_domain_the_provider_may_not_vouch_for_is_refused(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_b: User
) -> None:
    response = provider_sign_in(client, idp, admin_b.email, mfa=True)
    _refused(response, 403, f"{NAME} cannot sign in accounts at birch.invalid")
    assert _nobody_signed_in(client)
    assert _events("sign_in_failed")[0].detail["reason"] == "the provider may not vouch for birch.invalid"


def test_a_closed_account_is_refused(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    User.objects.filter(pk=admin_a.pk).update(is_active=False)
    response = provider_sign_in(client, idp, admin_a.email, mfa=True)
    _refused(response, 403, "The Steward account for admin@alder.invalid is closed")
    assert _nobody_signed_in(client)
    [event] = _events("sign_in_failed")
    assert (event.actor_user_id, event.detail["reason"]) == (admin_a.id, "the account is closed")


@pytest.mark.parametrize(
    ("tamper", "words", "reason"),
    [
        ({"stranger_key": True}, "its signature is not the provider", "signature"),
        ({"aud": ["someone-else"], "azp": "steward-test"}, "it was issued for another service", "aud"),
        ({"nonce": "another-sign-in"}, "it belongs to another sign-in", "nonce"),
        ({"exp": -600, "iat": -900}, "it had expired", "expired"),
        ({"iss": "https://login.example/other"}, "it was issued by someone else", "iss"),
    ],
)
def test_an_id_token_failing_a_check_is_refused(
    client: Client,
    idp: sign_in_idp.SignInIdp,
    provider: SignInProvider,
    admin_a: User,
    tamper: dict[str, Any],
    words: str,
    reason: str,
) -> None:
    overrides = dict(tamper)
    idp.sign_with_stranger_key = bool(overrides.pop("stranger_key", False))
    for claim in ("exp", "iat"):
        if claim in overrides:
            overrides[claim] = int(time.time()) + overrides[claim]
    idp.overrides = overrides
    issued = idp.tokens_issued
    response = provider_sign_in(client, idp, admin_a.email, mfa=True)
    assert idp.tokens_issued == issued + 1  # the provider did answer: Steward refused what it said
    _refused(response, 400, f"Steward could not trust the answer from {NAME}: {words}")
    assert _nobody_signed_in(client)
    [event] = _events("sign_in_failed")
    assert event.detail["provider"] == "alder" and "the ID token was refused" in event.detail["reason"]
    assert not SignInProviderFactor.objects.exists()


def test_a_wrong_state_is_refused_and_a_used_answer_cannot_be_replayed(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    start = client.get("/sign-in/with/alder/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    form = {k: query[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge")}
    answer = httpx.post(f"{idp.issuer}/authorize", data=form | {"email": admin_a.email, "mfa": "yes"})
    back = urlsplit(answer.headers["location"])
    code = parse_qs(back.query)["code"][0]
    issued = idp.tokens_issued
    forged = client.get(back.path, {"code": code, "state": "not-the-state"})
    _refused(forged, 400, "had expired or was already used")
    assert _nobody_signed_in(client)
    assert idp.tokens_issued == issued  # no code was exchanged for a forged answer
    replay = client.get(f"{back.path}?{back.query}")  # the sign-in was ended by the forged answer
    _refused(replay, 400, "had expired or was already used")
    assert _nobody_signed_in(client)
    reasons = [e.detail["reason"] for e in _events("sign_in_failed")]
    assert reasons == ["the state did not match a sign-in started in this browser"] + [
        "no sign-in with this provider was started in this browser, or it took too long"
    ]


def test_an_answer_from_another_browser_is_refused(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    """Login CSRF: an attacker's own answer sent to a victim's browser, which started nothing."""
    attacker = Client()
    start = attacker.get("/sign-in/with/alder/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    form = {k: query[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge")}
    answer = httpx.post(f"{idp.issuer}/authorize", data=form | {"email": admin_a.email, "mfa": "yes"})
    back = urlsplit(answer.headers["location"])
    _refused(client.get(f"{back.path}?{back.query}"), 400, "had expired or was already used")
    assert _nobody_signed_in(client)


def test_the_provider_saying_no_is_shown_and_audited(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider
) -> None:
    start = client.get("/sign-in/with/alder/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = client.get("/sign-in/with/alder/return/", {"error": "access_denied", "state": state})
    _refused(response, 400, f"{NAME} did not sign you in")
    assert _events("sign_in_failed")[0].detail["reason"] == "the provider answered access_denied"


def test_a_provider_that_cannot_be_reached_is_a_clear_502(client: Client, settings: SettingsWrapper) -> None:
    settings.SIGN_IN_PROVIDERS = (
        SignInProvider(
            key="alder",
            name=NAME,
            issuer="http://127.0.0.1:9",  # discard port: nothing listens
            client_id="x",
            client_secret="y",
            domains=("alder.invalid",),
        ),
    )
    response = client.get("/sign-in/with/alder/")
    _refused(response, 502, f"Steward could not reach {NAME}")
    assert _events("sign_in_failed")[0].detail["reason"].startswith("the provider could not be reached")


def test_a_discovery_document_naming_another_issuer_is_refused(
    client: Client, idp: sign_in_idp.SignInIdp, settings: SettingsWrapper
) -> None:
    settings.SIGN_IN_PROVIDERS = (_provider(idp, issuer=idp.issuer.replace("127.0.0.1", "localhost")),)
    response = client.get("/sign-in/with/alder/")
    _refused(response, 502, f"{NAME} is not set up correctly")


def test_an_unknown_provider_is_a_404(client: Client, provider: SignInProvider) -> None:
    assert client.get("/sign-in/with/someone-else/").status_code == 404
    assert client.get("/sign-in/with/someone-else/return/").status_code == 404


def test_starting_again_ends_the_earlier_sign_in(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider, admin_a: User
) -> None:
    first = client.get("/sign-in/with/alder/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(first["Location"]).query).items()}
    form = {k: query[k] for k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge")}
    client.get("/sign-in/with/alder/")  # the person pressed the button again
    assert any(k.startswith("_state_") for k in client.session.keys())  # noqa: SIM118 - not iterable
    answer = httpx.post(f"{idp.issuer}/authorize", data=form | {"email": admin_a.email, "mfa": "yes"})
    back = urlsplit(answer.headers["location"])
    _refused(client.get(f"{back.path}?{back.query}"), 400, "had expired or was already used")
    assert _nobody_signed_in(client)


def test_a_code_the_provider_refuses_is_shown_and_audited(
    client: Client, idp: sign_in_idp.SignInIdp, provider: SignInProvider
) -> None:
    start = client.get("/sign-in/with/alder/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = client.get("/sign-in/with/alder/return/", {"code": "not-a-code-it-issued", "state": state})
    _refused(response, 400, f"{NAME} did not confirm the sign-in")
    assert _nobody_signed_in(client)
    assert _events("sign_in_failed")[0].detail["reason"] == "the provider refused the code: invalid_grant"
