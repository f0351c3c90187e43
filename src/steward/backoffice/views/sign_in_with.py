"""Staff sign-in with their school's Microsoft 365 or Google account (OpenID Connect).

"Sign in with <provider>" on the sign-in page is a link here; this sends the browser to the
provider (`identity_providers.start`) and takes it back at `return/`, where the ID token is
checked (`identity_providers.finish`) and matched to an existing account (`auth.
check_provider_identity`). A token asserting several factors signs the person in, as the code step
would; otherwise they go on to the code step exactly as after a password. Any refusal is shown on
the sign-in page, audited, and signs nobody in.
"""

from __future__ import annotations

import time

from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_otp import login as otp_login

from steward.backoffice import auth, identity_providers
from steward.backoffice.views.sign_in import hold_pending_user, provider_by_key, safe_next, sign_in_page
from steward.core.sign_in_providers import SignInProvider

STARTED_KEY = "steward_provider_sign_in"
STARTED_SECONDS = 600  # time allowed at the provider's pages


@require_GET
def sign_in_with(request: HttpRequest, key: str) -> HttpResponse:
    provider = _provider(key)
    # One sign-in with a provider at a time per browser: an abandoned one's state goes with it.
    for stale in [k for k in request.session.keys() if k.startswith(identity_providers.STATE_PREFIX)]:  # noqa: SIM118
        del request.session[stale]
    request.session[STARTED_KEY] = {"provider": key, "next": safe_next(request), "at": time.time()}
    try:
        return identity_providers.start(request, provider, _return_uri(request, provider))
    except identity_providers.ProviderSignInError as error:
        return _refused(request, provider, error.reason, error.message, error.status)


@require_GET
def sign_in_with_return(request: HttpRequest, key: str) -> HttpResponse:
    provider = _provider(key)
    started = request.session.pop(STARTED_KEY, None)
    if not started or started.get("provider") != key or time.time() - started.get("at", 0) > STARTED_SECONDS:
        # authlib would refuse the state too; this also ends a sign-in left too long at the provider.
        return _refused(
            request,
            provider,
            "no sign-in with this provider was started in this browser, or it took too long",
            f"Signing in with {provider.name} had expired or was already used. Start again.",
            400,
        )
    try:
        identity = identity_providers.finish(request, provider)
    except identity_providers.ProviderSignInError as error:
        return _refused(request, provider, error.reason, error.message, error.status)
    check = auth.check_provider_identity(request, provider, dict(identity.claims))
    if check.user is None:
        return sign_in_page(request, error=check.message, error_field=_button_id(provider), status=403)
    next_url = started.get("next") or ""
    if not check.two_factor_done:
        hold_pending_user(request, check.user, next_url=next_url, provider=provider.key)
        return redirect("backoffice:sign-in-verify")
    request.session.cycle_key()
    login(request, check.user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, auth.provider_factor(check.user, provider))
    auth.signed_in_by_provider(request, provider, identity.claims.get("amr"))
    return redirect(next_url or "backoffice:home")


def _provider(key: str) -> SignInProvider:
    provider = provider_by_key(key)
    if provider is None:
        raise Http404("No identity provider has this name")
    return provider


def _return_uri(request: HttpRequest, provider: SignInProvider) -> str:
    """The redirect URI registered with the provider: https://<Steward's host>/sign-in/with/<key>/return/."""
    return request.build_absolute_uri(reverse("backoffice:sign-in-with-return", args=[provider.key]))


def _refused(request: HttpRequest, provider: SignInProvider, reason: str, message: str, status: int) -> HttpResponse:
    auth.provider_failed(request, provider, reason)
    return sign_in_page(request, error=message, error_field=_button_id(provider), status=status)


def _button_id(provider: SignInProvider) -> str:
    return f"sign-in-with-{provider.key}"
