"""Staff sign-in: password (throttled by django-axes), then a TOTP code (django-otp).

The user is only logged in once both steps pass; between them the session holds the pending
user's id for five minutes. Every success, failure and sign-out is written to the audit log.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import segno
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.audit.services import audit_request
from steward.backoffice.forms import SignInForm, TokenForm
from steward.core import ratelimit
from steward.tenancy.models import User

PENDING_KEY = "steward_pending_user"
PENDING_SECONDS = 300
TOO_MANY_CODES = "Too many wrong two-factor codes: signing in to this account is paused."


def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        address = ratelimit.address_key(request)
        # django-axes locks one account from one address; this stops one address trying many.
        if not (refused := ratelimit.refusal("sign_in_address", address)).allowed:
            return ratelimit.too_many_attempts(request, refused, portal=False, reason=ratelimit.SIGN_IN_FROM_ADDRESS)
        email = form.cleaned_data["email"].lower()
        user = authenticate(request, email=email, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            return HttpResponse(status=429)  # AxesMiddleware swaps in `locked_out` below
        if user is None:
            audit_request(
                request, action="sign_in_failed", detail={"email": email, "reason": "wrong email or password"}
            )
            if ratelimit.hit("sign_in_address", address).just_locked:
                audit_request(request, action="sign_in_address_locked", detail={"email": email})
            error = "Enter a correct email address and password"
        else:
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"id": user.pk, "at": time.time(), "next": _safe_next(request)}
            return redirect("backoffice:sign-in-verify")
    return render(request, "backoffice/sign_in.html", {"form": form, "error": error}, status=400 if error else 200)


def sign_in_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("backoffice:sign-in")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = _enrolment_device(user)
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        # Our own count, before the check and in the database, on top of django-otp's back-off
        # (which reads the failure count with the device, so parallel guesses could pass it).
        attempt = ratelimit.hit("two_factor", f"staff:{user.pk}")
        if not attempt.allowed:
            return ratelimit.too_many_attempts(request, attempt, portal=False, reason=TOO_MANY_CODES)
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["token"]):
            ratelimit.clear("two_factor", f"staff:{user.pk}")
            return _complete_sign_in(request, user, device, enrolled=enrolling)
        error = (
            "The code is wrong or has expired: try the newest code"
            if allowed
            else ("Too many wrong codes: wait a minute, then try again")
        )
        audit_request(
            request,
            action="sign_in_failed",
            user_id=user.pk,
            actor_label=str(user),
            detail={"reason": "wrong two-factor code"},
        )
        if attempt.just_locked:
            audit_request(
                request,
                action="two_factor_locked",
                user_id=user.pk,
                actor_label=str(user),
                detail={"minutes": attempt.retry_after // 60},
            )
            return ratelimit.too_many_attempts(request, attempt, portal=False, reason=TOO_MANY_CODES)
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
    audit_request(request, action="sign_in", detail={"two_factor": "totp", "enrolled_now": enrolled})
    return redirect(pending.get("next") or "backoffice:home")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_request(request, action="sign_out")
    logout(request)
    return redirect("backoffice:sign-in")


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    """django-axes calls this once an email/IP pair has failed too often."""
    email = (credentials or {}).get("email") or request.POST.get("email", "")
    audit_request(request, action="sign_in_locked_out", detail={"email": str(email)[:254]})
    portal = request.path_info.startswith("/portal/")
    return render(request, "portal/locked_out.html" if portal else "backoffice/locked_out.html", status=429)


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


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""
