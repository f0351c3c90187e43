"""Parent sign-in, two-factor code, sign-out, and accepting an invitation."""

from __future__ import annotations

import time

from axes.utils import reset as axes_reset
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from steward.core import ratelimit
from steward.portal.auth import PENDING_KEY, PENDING_SECONDS, SESSION_KEY, portal_audit, totp_verify
from steward.portal.forms import CodeForm, RegisterForm, SignInForm
from steward.portal.models import ParentAccount
from steward.portal.services import InvitationError, invitation_accept, invitation_for_token

TOO_MANY_CODES = "Too many wrong codes from your authenticator app: signing in to this account is paused."
TOO_MANY_LINKS = "Too many invitation links from your network did not work: opening invitations from here is paused."


def _audit(request: HttpRequest, action: str, parent_id: int | None, **detail: object) -> None:
    portal_audit(request, action, parent_id=parent_id, detail=dict(detail))


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    ok = target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ok else "/portal/"


def _authenticate(request: HttpRequest, email: str, password: str) -> ParentAccount | None:
    """The account, or None; a wrong password counts against the address too (spraying)."""
    account = authenticate(request, parent_email=email, password=password)
    if isinstance(account, ParentAccount):
        return account
    if getattr(request, "axes_locked_out", False):
        return None  # axes refused without checking: not one more wrong password
    if ratelimit.hit("sign_in_address", ratelimit.address_key(request)).just_locked:
        _audit(request, "portal_sign_in_address_locked", None, email=email)
    return None


def _address_refusal(request: HttpRequest) -> HttpResponse | None:
    """The page for an address that has failed too often, whichever accounts it tried."""
    refused = ratelimit.refusal("sign_in_address", ratelimit.address_key(request))
    if refused.allowed:
        return None
    return ratelimit.too_many_attempts(request, refused, portal=True, reason=ratelimit.SIGN_IN_FROM_ADDRESS)


def _start_session(request: HttpRequest, parent: ParentAccount, next_url: str) -> HttpResponse:
    request.session.cycle_key()
    if parent.two_factor:
        request.session[PENDING_KEY] = {"id": parent.pk, "at": time.time(), "next": next_url}
        return redirect("portal:sign-in-code")
    return _complete(request, parent, next_url, two_factor=False)


def _complete(request: HttpRequest, parent: ParentAccount, next_url: str, *, two_factor: bool) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    request.session[SESSION_KEY] = parent.pk
    ParentAccount.objects.filter(pk=parent.pk).update(last_sign_in_at=timezone.now())
    axes_reset(username=parent.email)
    _audit(request, "portal_sign_in", parent.pk, two_factor=two_factor)
    return redirect(next_url)


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_KEY):
        return redirect("portal:home")
    form = SignInForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if refused := _address_refusal(request):
            return refused
        email = form.cleaned_data["email"].lower()
        parent = _authenticate(request, email, form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            return HttpResponse(status=429)  # AxesMiddleware swaps in the lock-out page
        if parent is not None:
            return _start_session(request, parent, _safe_next(request))
        _audit(request, "portal_sign_in_failed", None, email=email)
        error = "Enter a correct email address and password"
    return render(request, "portal/sign_in.html", {"form": form, "error": error}, status=400 if error else 200)


def sign_in_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return redirect("portal:sign-in")
    parent = ParentAccount.objects.filter(pk=pending["id"], is_active=True).first()
    if parent is None:
        return redirect("portal:sign-in")
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        # Counted before it is checked, so parallel guesses cannot all pass under the limit.
        attempt = ratelimit.hit("two_factor", f"parent:{parent.pk}")
        if not attempt.allowed:
            return ratelimit.too_many_attempts(request, attempt, portal=True, reason=TOO_MANY_CODES)
        if totp_verify(parent, form.cleaned_data["token"]):
            ratelimit.clear("two_factor", f"parent:{parent.pk}")
            return _complete(request, parent, pending["next"], two_factor=True)
        _audit(request, "portal_sign_in_failed", parent.pk, reason="wrong two-factor code")
        if attempt.just_locked:
            _audit(request, "portal_two_factor_locked", parent.pk, minutes=attempt.retry_after // 60)
            return ratelimit.too_many_attempts(request, attempt, portal=True, reason=TOO_MANY_CODES)
        error = "The code is wrong or has expired: try the newest code"
    return render(request, "portal/sign_in_code.html", {"form": form, "error": error}, status=400 if error else 200)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    parent_id = request.session.get(SESSION_KEY)
    if parent_id:
        _audit(request, "portal_sign_out", parent_id)
    request.session.flush()
    return redirect("portal:sign-in")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Create an account from an invitation, or, for an existing account, sign in to add the school."""
    address = ratelimit.address_key(request)
    if not (guessing := ratelimit.refusal("invitation_address", address)).allowed:
        return ratelimit.too_many_attempts(request, guessing, portal=True, reason=TOO_MANY_LINKS)
    found = invitation_for_token(token)
    if found is None and ratelimit.hit("invitation_address", address).just_locked:
        _audit(request, "portal_invitation_guessing_locked", None)
    if found is None or not found.usable:
        return render(request, "portal/invitation_invalid.html", status=404 if found is None else 410)
    has_account = ParentAccount.objects.filter(email__iexact=found.email).exists()
    form: RegisterForm | SignInForm
    error = ""
    if has_account:
        form = SignInForm(request.POST or None, initial={"email": found.email})
        if request.method == "POST" and form.is_valid():
            if spraying := _address_refusal(request):
                return spraying
            parent = _authenticate(request, form.cleaned_data["email"].lower(), form.cleaned_data["password"])
            if getattr(request, "axes_locked_out", False):
                return HttpResponse(status=429)
            if parent is None or parent.email.lower() != found.email.lower():
                error = "Enter the email address and password of your existing account"
            else:
                try:
                    invitation_accept(token=token, existing=parent)
                except InvitationError as e:
                    error = str(e)
                else:
                    return _start_session(request, parent, "/portal/")
    else:
        form = RegisterForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                parent = invitation_accept(
                    token=token, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password"]
                )
            except ValidationError as e:
                form.add_error(None if hasattr(e, "error_dict") else "password", e)
            except InvitationError as e:
                error = str(e)
            else:
                return _start_session(request, parent, "/portal/")
    context = {"form": form, "error": error, "invitation": found, "has_account": has_account}
    status = 400 if (error or form.errors) else 200
    return render(request, "portal/invitation.html", context, status=status)
