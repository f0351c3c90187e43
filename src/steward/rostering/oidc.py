"""django-oauth-toolkit's validator, taught who may sign in where and what each app receives.

The authorisation view (backoffice/views/sign_in_apps.py) checks the person, the school and their
consent, then writes `{"steward": {"school": id, "consent": id}}` into the grant's claims (the
field django-oauth-toolkit keeps with each code). Everything after that is here, and checks again,
because a flow can be revoked or a consent withdrawn between the code and the token, or while a
token is in use:
- exchanging a code: the school's flow must still release and the consent still stand, else the
  code is refused (`invalid_grant`);
- the ID token and userinfo carry exactly `signin.sign_in_for(...).claims` (what the flow releases,
  plus the per-recipient `sub`), and each is logged as a disclosure (`services.sign_in_release`);
- an access token issued to an app records its school and consent (`SignInToken`); userinfo checks
  both again on every call and answers 401 when either has ended;
- sign-in tokens are not refreshed: the app signs the person in again, and the checks run again.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from steward.audit.actor import Actor
from steward.rostering import services
from steward.rostering.models import SignInApp, SignInConsent, SignInToken
from steward.rostering.signin import CLAIM_FIELDS, Refusal, SignIn, app_for, consent_in_force, sign_in_for
from steward.tenancy.models import Membership, Organisation, User
from steward.tenancy.scope import tenant_scope

STEWARD_CLAIMS = "steward"


def grant_claims(*, school_id: int, consent_id: int) -> dict[str, Any]:
    """What the authorisation view stores with the code (read back by `validate_code`)."""
    return {STEWARD_CLAIMS: {"school": school_id, "consent": consent_id}}


def _still_allowed(user: User, app: SignInApp, school_id: int, consent_id: int) -> SignIn | None:
    school = Organisation.objects.filter(pk=school_id).first()
    if school is None:
        return None
    try:
        sign_in = sign_in_for(user=user, app=app, school=school)
    except Refusal:
        return None
    consent = consent_in_force(user=user, sign_in=sign_in)
    return sign_in if consent is not None and consent.pk == consent_id else None


def _actor(app: SignInApp, school_id: int) -> Actor:
    return Actor(label=f"{app.name} (app sign-in)", client=app.application.client_id, organisation_id=school_id)


class SignInValidator(OAuth2Validator):  # type: ignore[misc]  # django-oauth-toolkit ships no types
    """The validator for every OAuth client; only sign-in apps (the `openid` scope) get the checks."""

    oidc_claim_scope = None  # the flow decides what is released, not the scopes the app asked for

    def get_discovery_claims(self, request: Any) -> list[str]:
        return ["sub", "school_urn", "name", *CLAIM_FIELDS]

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        ours = (request.claims or {}).get(STEWARD_CLAIMS) if isinstance(request.claims, dict) else None
        app = app_for(client)
        if not ours or app is None:
            return False
        sign_in = _still_allowed(request.user, app, int(ours["school"]), int(ours["consent"]))
        if sign_in is None:
            return False
        request.steward_sign_in = sign_in
        request.steward_consent_id = int(ours["consent"])
        return True

    def validate_refresh_token(self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        if app_for(client) is not None:
            return False  # sign-in apps sign the person in again, so every check runs again
        return bool(super().validate_refresh_token(refresh_token, client, request, *args, **kwargs))

    def _create_access_token(self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None) -> Any:
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        sign_in: SignIn | None = getattr(request, "steward_sign_in", None)
        if sign_in is not None:
            with tenant_scope([sign_in.school.id]):
                SignInToken.objects.create(
                    school=sign_in.school, consent_id=request.steward_consent_id, access_token=access_token
                )
        return access_token

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        access_token = request.access_token
        if "openid" not in access_token.scope.split():
            return True
        schools = list(Membership.objects.filter(user=access_token.user).values_list("organisation_id", flat=True))
        with tenant_scope(schools):
            link = SignInToken.objects.filter(access_token=access_token).select_related("consent__app").first()
            consent: SignInConsent | None = link.consent if link is not None else None
        if consent is None:
            return False
        sign_in = _still_allowed(access_token.user, consent.app, consent.school_id, consent.pk)
        if sign_in is None:
            return False
        request.steward_sign_in = sign_in
        request.steward_via = "userinfo"
        return True

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        sign_in: SignIn | None = getattr(request, "steward_sign_in", None)
        if sign_in is None:
            # Fail closed: without our checks django-oauth-toolkit would send `sub` = the Steward user id.
            raise PermissionError("OpenID Connect claims asked for without a checked sign-in")
        via = getattr(request, "steward_via", "id_token")
        services.sign_in_release(sign_in=sign_in, channel_detail=via, actor=_actor(sign_in.app, sign_in.school.id))
        return dict(sign_in.claims)
