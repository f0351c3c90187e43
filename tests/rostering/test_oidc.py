"""Steward as an OpenID Connect provider, driven end to end by a real relying party (authlib).

The teacher signs in to Steward in their browser (the test client); the app's server side is
authlib's OAuth2Session and OpenID client code, speaking HTTP to the same Steward.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from joserfc.errors import InvalidClaimError
from time_machine import TimeMachineFixture

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.mis.models import ProcessingRestriction
from steward.rostering.ids import subject_id
from steward.rostering.models import SignInConsent
from steward.sharing import services as sharing
from steward.sharing.models import Disclosure
from steward.sharing.selectors import disclosures_of_subject
from steward.tenancy.models import Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.rostering.conftest import (
    CALLBACK,
    ISSUER,
    Attempt,
    RelyingParty,
    World,
    callback_params,
    consent_code,
    school_with_flow,
)

START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def _agree(world: World, attempt: Attempt) -> dict[str, str]:
    """The teacher opens the app's link, reads the consent screen and says yes."""
    page = world.browser.get(attempt.path)
    assert page.status_code == 200, page.content[:500]
    answer = world.browser.post(attempt.path, {"decision": "yes"})
    assert answer.status_code == 302, answer.content[:500]
    return callback_params(answer["Location"])


def _signed_in(world: World, rp: RelyingParty) -> tuple[Attempt, dict[str, object]]:
    attempt = rp.start()
    params = _agree(world, attempt)
    assert params["state"] == attempt.state
    token = rp.finish(attempt, f"{CALLBACK}?code={params['code']}&state={params['state']}")
    return attempt, token


def _token_error(rp: RelyingParty, attempt: Attempt, code: str) -> str:
    response = rp.session.post(
        rp.server_metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": attempt.verifier,
        },
        auth=(rp.client_id, world_secret(rp)),
        withhold_token=True,
    )
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


def world_secret(rp: RelyingParty) -> str:
    return str(rp.session.client_secret)


def test_the_discovery_document_and_jwks_describe_a_code_flow_with_pkce_and_rs256(world: World) -> None:
    rp = world.rp()
    metadata = rp.server_metadata
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/authorize/"
    assert metadata["token_endpoint"] == f"{ISSUER}/token/"
    assert metadata["userinfo_endpoint"] == f"{ISSUER}/userinfo/"
    assert metadata["response_types_supported"] == ["code"]
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert {"sub", "school_urn", "given_name", "roles"} <= set(metadata["claims_supported"])
    keys = rp.fetch_jwk_set()["keys"]
    assert keys and all(k["kty"] == "RSA" and "d" not in k for k in keys)


def test_a_teacher_signs_in_and_the_app_gets_exactly_what_the_flow_releases(world: World) -> None:
    rp = world.rp()
    attempt = rp.start()
    page = world.browser.get(attempt.path)
    text = page.content.decode()
    assert "Sign in to Maths learning app" in text
    assert "Your first name (from your school" in text and "Your role" in text
    assert "email address" not in text.lower().split("why")[0]  # the flow does not release email
    assert "Give teachers accounts in the maths app" in text  # the flow's purpose
    # the answer is redirected to the app: the page's form-action lets it go there, and nowhere else
    assert "form-action 'self' https://app.example;" in page["Content-Security-Policy"] + ";"
    params = _agree(world, attempt)
    token = rp.finish(attempt, f"{CALLBACK}?code={params['code']}&state={params['state']}")

    claims = rp.parse_id_token(token, nonce=attempt.nonce)  # signature (JWKS), iss, aud, nonce, at_hash
    sub = subject_id(recipient_code="learning-app", school_urn=world.school.urn, kind="staff", source_id="S1")
    assert claims["sub"] == sub and claims["aud"] == world.client_id and claims["iss"] == ISSUER
    assert claims["nonce"] == attempt.nonce
    assert claims["given_name"] == "Ada" and "email" not in claims

    userinfo = dict(rp.userinfo())
    assert userinfo == {
        "sub": sub,
        "school_urn": str(world.school.urn),
        "given_name": "Ada",
        "family_name": "Lovelace",
        "name": "Ada Lovelace",
        "roles": ["Head of maths", "Teacher"],
    }
    assert str(world.teacher.pk) not in (sub,) and "S1" not in userinfo.values()

    with tenant_scope([world.school.id]):
        logged = disclosures_of_subject(school_id=world.school.id, source_id="S1")
        consent = SignInConsent.objects.get(user=world.teacher)
        actions = list(AuditEvent.objects.filter(school_id=world.school.id).values_list("action", flat=True))
    assert {(d.channel, d.record_type, d.recipient.code) for d in logged} == {
        (Disclosure.Channel.SIGN_IN, "staff", "learning-app"),
        (Disclosure.Channel.SIGN_IN, "staff-assignments", "learning-app"),
    }
    assert len(logged) == 4  # the ID token and the userinfo answer, each a staff and an assignments record
    assert all(d.flows == [world.flow.pk] for d in logged)
    assert consent.given and sorted(consent.claims) == sorted(userinfo) and consent.withdrawn_at is None
    assert "sign_in_consent_given" in actions and actions.count("sign_in_claims_released") == 2

    # the second time, nobody asks again: straight back to the app with a code
    again = world.browser.get(rp.start().path)
    assert again.status_code == 302 and "code" in callback_params(again["Location"])


def test_an_id_token_with_another_nonce_is_refused_by_the_app(world: World) -> None:
    rp = world.rp()
    attempt, token = _signed_in(world, rp)
    with pytest.raises(InvalidClaimError):
        rp.parse_id_token(token, nonce="not-the-nonce-we-sent")


def test_a_redirect_uri_the_app_did_not_register_is_refused_without_redirecting(world: World) -> None:
    attempt = world.rp().start(redirect_uri="https://evil.example/callback")
    response = world.browser.get(attempt.path)
    assert response.status_code == 400
    assert "This sign-in link does not work" in response.content.decode()
    with tenant_scope([world.school.id]):
        assert not SignInConsent.objects.exists()


def test_pkce_is_required_and_a_wrong_verifier_is_refused(world: World) -> None:
    rp = world.rp()
    plain = rp.session.create_authorization_url(rp.server_metadata["authorization_endpoint"], nonce="n")[0]
    plain_path = plain.split("testserver", 1)[1]
    # authlib adds a challenge only when given a verifier: this request has none
    assert "code_challenge" not in plain_path
    response = world.browser.get(plain_path)
    assert response.status_code == 302
    assert callback_params(response["Location"])["error"] == "invalid_request"

    attempt = rp.start()
    code = consent_code(world, attempt)
    attempt.verifier = "x" * 64
    assert _token_error(rp, attempt, code) == "invalid_grant"


def test_a_school_without_an_approved_flow_is_refused_and_the_app_told_access_denied(world: World) -> None:
    pending, _ = school_with_flow("Birch Academy", "ben@birch.invalid", approve=False)
    teacher = factories.user(Role.SCHOOL_DPO, pending, email="ben@birch.invalid")
    browser = Client()
    sign_in(browser, teacher)
    attempt = world.rp().start()
    response = browser.get(attempt.path)
    assert response.status_code == 403
    text = response.content.decode()
    assert "None of your schools has approved sharing your details with Maths learning app" in text
    assert "error=access_denied" in text and f"state={attempt.state}" in text


def test_a_revoked_flow_stops_the_code_the_token_and_the_next_sign_in(world: World) -> None:
    rp = world.rp()
    attempt, token = _signed_in(world, rp)
    assert rp.userinfo()["given_name"] == "Ada"
    waiting = rp.start()
    code = consent_code(world, waiting)
    with tenant_scope([world.school.id]):
        sharing.flow_revoke(flow=world.flow, actor=Actor.system("DPO"))

    assert _token_error(rp, waiting, code) == "invalid_grant"
    assert rp.session.get(rp.server_metadata["userinfo_endpoint"]).status_code == 401
    refused = world.browser.get(rp.start().path)
    assert refused.status_code == 403
    assert "None of your schools has approved" in refused.content.decode()


def test_a_withdrawn_consent_ends_the_token_and_the_next_sign_in_asks_again(world: World) -> None:
    rp = world.rp()
    _signed_in(world, rp)
    page = world.browser.get("/account/apps/")
    assert "Maths learning app at Alder Primary" in page.content.decode()
    with tenant_scope([world.school.id]):
        consent = SignInConsent.objects.get(user=world.teacher)
    response = world.browser.post(f"/account/apps/{consent.pk}/withdraw/")
    assert response.status_code == 302
    assert "will no longer receive your details" in world.browser.get("/account/apps/").content.decode()

    assert rp.session.get(rp.server_metadata["userinfo_endpoint"]).status_code == 401
    asked = world.browser.get(rp.start().path)
    assert asked.status_code == 200 and "Do you want to sign in to Maths learning app" in asked.content.decode()
    with tenant_scope([world.school.id]):
        assert AuditEvent.objects.filter(action="sign_in_consent_withdrawn", school_id=world.school.id).count() == 1


def test_someone_elses_consent_cannot_be_withdrawn(world: World) -> None:
    _signed_in(world, world.rp())
    with tenant_scope([world.school.id]):
        consent = SignInConsent.objects.get(user=world.teacher)
    other = factories.user(Role.SCHOOL_DPO, world.school)
    browser = Client()
    sign_in(browser, other)
    assert browser.post(f"/account/apps/{consent.pk}/withdraw/").status_code == 404
    with tenant_scope([world.school.id]):
        assert SignInConsent.objects.get(pk=consent.pk).withdrawn_at is None


def test_an_expired_code_and_a_replayed_code_are_refused(world: World, time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(START, tick=False)
    rp = world.rp()
    late = rp.start()
    code = consent_code(world, late)
    time_machine.move_to(START + dt.timedelta(seconds=61), tick=False)
    assert _token_error(rp, late, code) == "invalid_grant"

    attempt = rp.start()
    code = consent_code(world, attempt)
    rp.finish(attempt, f"{CALLBACK}?code={code}&state={attempt.state}")
    assert _token_error(rp, attempt, code) == "invalid_grant"


def test_no_or_no_answer_tells_the_app_access_denied_or_asks_again(world: World) -> None:
    attempt = world.rp().start()
    missing = world.browser.post(attempt.path, {})
    assert missing.status_code == 400
    assert "Select yes if you want to sign in to Maths learning app" in missing.content.decode()
    declined = world.browser.post(attempt.path, {"decision": "no"})
    assert callback_params(declined["Location"]) == {"error": "access_denied", "state": attempt.state}
    with tenant_scope([world.school.id]):
        assert list(SignInConsent.objects.values_list("given", flat=True)) == [False]


def test_a_steward_user_not_in_the_schools_staff_records_is_refused(world: World) -> None:
    stranger = factories.user(Role.SCHOOL_DPO, world.school, email="nobody@alder.invalid")
    browser = Client()
    sign_in(browser, stranger)
    response = browser.get(world.rp().start().path)
    assert response.status_code == 403
    assert "no single entry with your email address, nobody@alder.invalid" in response.content.decode()


def test_signed_out_the_teacher_signs_in_with_two_factors_and_comes_back_to_the_request(world: World) -> None:
    alan = factories.user(Role.SCHOOL_DPO, world.school, email="alan@alder.invalid")  # in the MIS as S2
    attempt = world.rp().start()
    browser = Client()
    response = browser.get(attempt.path)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/?next=")
    step = browser.post(response["Location"], {"email": alan.email, "password": factories.PASSWORD})
    assert step["Location"] == "/sign-in/verify/"
    back = browser.post("/sign-in/verify/", {"token": factories.current_code(alan)})
    assert back["Location"] == attempt.path  # the app's whole request, PKCE challenge and all
    assert "Do you want to sign in to Maths learning app" in browser.get(back["Location"]).content.decode()


def test_a_teacher_whose_processing_is_restricted_is_refused(world: World) -> None:
    with tenant_scope([world.school.id]):
        ProcessingRestriction.objects.create(school=world.school, record_type="staff", source_id="S1")
    response = world.browser.get(world.rp().start().path)
    assert response.status_code == 403
    assert "has restricted the use of your details" in response.content.decode()
