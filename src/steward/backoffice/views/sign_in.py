"""Staff sign-in: password (throttled by django-axes), then a TOTP code (django-otp).

The user is only logged in once both steps pass; between them the session holds the pending
user's id for five minutes. The rules and the audit events (every success, failure, lock-out
and sign-out) are `backoffice/auth.py`'s; this module reads the forms and picks the pages.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.backoffice import auth
from steward.core import ratelimit
from steward.core.forms import CodeForm, SignInForm, posted
from steward.core.sign_in_providers import SignInProvider
from steward.tenancy.models import User

PENDING_KEY = "steward_pending_user"
PENDING_SECONDS = 300
TOO_MANY_CODES = "Too many wrong two-factor codes: signing in to this account is paused."


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(posted(request))
    error = ""
    if request.method == "POST" and form.is_valid():
        check = auth.check_password(request, form.cleaned_data["email"], form.cleaned_data["password"])
        if check.refused is not None:
            return ratelimit.too_many_attempts(
                request, check.refused, portal=False, reason=ratelimit.SIGN_IN_FROM_ADDRESS
            )
        if check.axes_locked:
            return HttpResponse(status=429)  # AxesMiddleware swaps in `locked_out` below
        if check.user is None:
            error = "Enter a correct email address and password"
        else:
            hold_pending_user(request, check.user, next_url=safe_next(request))
            return redirect("backoffice:sign-in-verify")
    return sign_in_page(request, form=form, error=error, status=400 if error else 200)


def sign_in_page(
    request: HttpRequest, *, form: SignInForm | None = None, error: str = "", error_field: str = "", status: int = 200
) -> HttpResponse:
    """The sign-in page: the password form and a button for each identity provider the ICT service
    set up (`settings.SIGN_IN_PROVIDERS`); also where a provider's refusal is shown."""
    context = {
        "form": form or SignInForm(),
        "error": error,
        "error_field": error_field or "id_email",
        "sign_in_providers": settings.SIGN_IN_PROVIDERS,
        "next": safe_next(request),
    }
    return render(request, "backoffice/sign_in.html", context, status=status)


def sign_in_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("backoffice:sign-in")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = _enrolment_device(user)
    form = CodeForm(posted(request))
    error = ""
    if request.method == "POST" and form.is_valid():
        check = auth.check_code(request, user, device, form.cleaned_data["token"])
        if check.refused is not None:
            return ratelimit.too_many_attempts(request, check.refused, portal=False, reason=TOO_MANY_CODES)
        if check.passed:
            return _complete_sign_in(request, user, device, enrolled=enrolling)
        error = (
            "Too many wrong codes: wait a minute, then try again"
            if check.throttled
            else "The code is wrong or has expired: try the newest code"
        )
    context: dict[str, Any] = {"form": form, "error": error, "enrolling": enrolling, "user_name": user.full_name}
    if enrolling:
        context["qr_data_uri"] = _qr_data_uri(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "backoffice/sign_in_verify.html", context, status=400 if error else 200)


def _complete_sign_in(request: HttpRequest, user: User, device: TOTPDevice, *, enrolled: bool) -> HttpResponse:
    pending = request.session.pop(PENDING_KEY)
    if enrolled:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    auth.signed_in(request, enrolled=enrolled, provider=provider_by_key(pending.get("provider") or ""))
    return redirect(pending.get("next") or "backoffice:home")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    auth.signed_out(request)
    logout(request)
    return redirect("backoffice:sign-in")


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """django-axes calls this once an email/IP pair has failed too often (staff and parents)."""
    email = (credentials or {}).get("email") or (credentials or {}).get("parent_email") or request.POST.get("email", "")
    auth.locked_out(request, str(email))
    portal = request.path_info.startswith("/portal/")
    return render(request, "portal/locked_out.html" if portal else "backoffice/locked_out.html", status=429)


def provider_by_key(key: str) -> SignInProvider | None:
    return next((p for p in settings.SIGN_IN_PROVIDERS if p.key == key), None)


def hold_pending_user(request: HttpRequest, user: User, *, next_url: str, provider: str = "") -> None:
    """The first step passed (a password, or an identity provider without a second factor): a new
    session key, and the person has five minutes to give the code."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {"id": user.pk, "at": time.time(), "next": next_url, "provider": provider}


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return User.objects.filter(pk=pending["id"], is_active=True).first()


def _enrolment_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": "Authenticator app"})
    return device


def _qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=4))


def safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""
