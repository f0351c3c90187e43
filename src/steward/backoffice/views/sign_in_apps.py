"""Signing in to third-party apps through Steward (OpenID Connect), and the person's own list of them.

The authorisation endpoint is a back-office page: the person must be signed in to Steward with two
factors, as for every staff page. It then finds where they may use the app (`rostering.signin`),
asks for their consent the first time (or again after a withdrawal, or when the school's flow
releases something new), and hands django-oauth-toolkit the code request with the chosen school
and consent written into the grant (`rostering.oidc`). Anything that stops the sign-in is a GOV.UK
page saying why, with a link back that tells the app `access_denied`. Learners have no Steward
accounts yet, so only staff sign in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_backends import get_oauthlib_core

from steward.audit.actor import actor_from_request
from steward.backoffice.access import staff_required
from steward.core.http import StewardRequest
from steward.rostering import services
from steward.rostering.models import SignInConsent
from steward.rostering.oidc import grant_claims
from steward.rostering.signin import (
    Refusal,
    SignIn,
    app_for,
    claim_label,
    consent_in_force,
    eligible_schools,
    sign_in_for,
)
from steward.tenancy.models import Membership, Organisation, User
from steward.tenancy.scope import tenant_scope

SCHOOL_PARAMETER = "steward_school"


def _back_to_app(credentials: dict[str, Any], error: str) -> str:
    """The app's redirect URI with an OAuth error (the URI was checked against its registration)."""
    query = {"error": error, **({"state": credentials["state"]} if credentials.get("state") else {})}
    uri = str(credentials["redirect_uri"])
    return uri + ("&" if "?" in uri else "?") + urlencode(query)


def _refused(request: StewardRequest, credentials: dict[str, Any], app_name: str, reason: str) -> HttpResponse:
    context = {"app_name": app_name, "reason": reason, "back": _back_to_app(credentials, "access_denied")}
    return render(request, "backoffice/sign_in_app_refused.html", context, status=403)


def _redirect(uri: str, application: Any) -> HttpResponse:
    schemes: list[str] = application.get_allowed_schemes() if application is not None else ["http", "https"]
    response: HttpResponse = OAuth2ResponseRedirect(uri, schemes)
    return response


def authorize(request: StewardRequest) -> HttpResponse:
    """GET: check the request and show the school choice or the consent screen; POST: the answer."""
    if not request.user.is_authenticated or not getattr(request.user, "is_verified", lambda: False)():
        # As `staff_required`, but keeping the whole request: the app's parameters are in the query.
        return redirect(f"/sign-in/?{urlencode({'next': request.get_full_path()})}")
    user: User = request.user  # type: ignore[assignment]
    core = get_oauthlib_core()
    try:
        scopes, credentials = core.validate_authorization_request(request)
    except FatalClientError as fatal:  # unknown app or a redirect URI it did not register: never redirect
        context = {"description": fatal.oauthlib_error.description or fatal.oauthlib_error.error}
        return render(request, "backoffice/sign_in_app_invalid.html", context, status=400)
    except OAuthToolkitError as failed:
        uri = failed.oauthlib_error.in_uri(failed.oauthlib_error.redirect_uri)
        return _redirect(uri, None)
    application = get_application_model().objects.get(client_id=credentials["client_id"])
    app = app_for(application)
    if app is None or "openid" not in scopes:
        return _refused(
            request, credentials, application.name, "This app is not registered for signing in with Steward."
        )
    schools = eligible_schools(user=user, app=app)
    if not schools:
        member = Membership.objects.filter(user=user, organisation__kind="school").exists()
        reason = (
            f"None of your schools has approved sharing your details with {app.name}."
            if member
            else f"Only school staff can sign in to {app.name} with Steward."
        )
        return _refused(request, credentials, app.name, reason)
    chosen = request.POST.get(SCHOOL_PARAMETER) or request.GET.get(SCHOOL_PARAMETER)
    school = next((s for s in schools if str(s.id) == chosen), None) if chosen else None
    if school is None and len(schools) == 1:
        school = schools[0]
    if school is None:
        return render(
            request,
            "backoffice/sign_in_app_school.html",
            {"app": app, "schools": schools, "query": request.GET.urlencode(), "parameter": SCHOOL_PARAMETER},
        )
    try:
        sign_in = sign_in_for(user=user, app=app, school=school)
    except Refusal as refusal:
        return _refused(request, credentials, app.name, str(refusal))
    consent = consent_in_force(user=user, sign_in=sign_in)
    error = ""
    if consent is None and request.method == "POST":
        answer = request.POST.get("decision")
        if answer not in ("yes", "no"):
            error = f"Select yes if you want to sign in to {app.name}"
        else:
            recorded = services.sign_in_consent_record(
                user=user, sign_in=sign_in, given=answer == "yes", actor=actor_from_request(request)
            )
            if answer == "no":
                return _redirect(_back_to_app(credentials, "access_denied"), application)
            consent = recorded
    if consent is None:
        if "none" in str(request.GET.get("prompt", "")).split():
            return _redirect(_back_to_app(credentials, "consent_required"), application)
        return _consent_page(request, sign_in, error, str(credentials["redirect_uri"]))
    credentials["claims"] = grant_claims(school_id=school.id, consent_id=consent.pk)
    try:
        uri, _headers, _body, _status = core.create_authorization_response(request, scopes, credentials, True)
    except OAuthToolkitError as failure:
        return _redirect(failure.oauthlib_error.in_uri(failure.oauthlib_error.redirect_uri), application)
    return _redirect(uri, application)


def _consent_page(request: StewardRequest, sign_in: SignIn, error: str, redirect_uri: str) -> HttpResponse:
    claims = [claim_label(name) for name in sign_in.claim_names]
    context = {
        "app": sign_in.app,
        "school": sign_in.school,
        "claims": claims,
        "purposes": [f.purpose for f in sign_in.flows],
        "error": error,
        "error_field": "decision-yes",
        "school_parameter": SCHOOL_PARAMETER,
    }
    response = render(request, "backoffice/sign_in_app_consent.html", context, status=400 if error else 200)
    # The answer is posted here and then redirected to the app: browsers hold that redirect to the
    # page's form-action too, so this page (only) also allows the app's registered origin.
    target = urlsplit(redirect_uri)
    response._csp_update = {"form-action": [f"{target.scheme}://{target.netloc}"]}  # type: ignore[attr-defined]
    return response


@staff_required
def account_apps(request: StewardRequest) -> HttpResponse:
    """The apps this person agreed to sign in to, at each school, with a way to withdraw."""
    user: User = request.user  # type: ignore[assignment]
    schools = list(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))
    with tenant_scope(schools):
        consents = list(
            SignInConsent.objects.filter(user=user, given=True, withdrawn_at__isnull=True)
            .select_related("app")
            .order_by("-at")
        )
    names = dict(Organisation.objects.filter(id__in=[c.school_id for c in consents]).values_list("id", "name"))
    rows = [
        {"consent": c, "school": names.get(c.school_id, ""), "claims": [claim_label(n) for n in c.claims]}
        for c in consents
    ]
    return render(request, "backoffice/account_apps.html", {"rows": rows})


@require_POST
@staff_required
def account_app_withdraw(request: StewardRequest, consent_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    schools = list(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))
    with tenant_scope(schools):
        consent = (
            SignInConsent.objects.filter(pk=consent_id, user=user, given=True, withdrawn_at__isnull=True)
            .select_related("app__application")
            .first()
        )
    if consent is None:
        raise Http404("No such consent of yours")
    services.sign_in_consent_withdraw(consent=consent, actor=actor_from_request(request))
    messages.success(request, f"{consent.app.name} will no longer receive your details.")
    return redirect("backoffice:account-apps")
