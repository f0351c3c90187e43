"""Parent sign-in, two-factor code, sign-out, and accepting an invitation.

The checks and their audit events are `portal/auth.py`'s; these views read forms and pick pages.
"""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from steward.core import ratelimit
from steward.core.forms import CodeForm, SignInForm, posted
from steward.portal import auth
from steward.portal.auth import PENDING_KEY, PENDING_SECONDS, SESSION_KEY, portal_audit
from steward.portal.forms import RegisterForm
from steward.portal.models import ParentAccount
from steward.portal.services import InvitationError, invitation_accept, invitation_for_token

TOO_MANY_CODES = "Too many wrong codes from your authenticator app: signing in to this account is paused."
TOO_MANY_LINKS = "Too many invitation links from your network did not work: opening invitations from here is paused."


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next", "")
    ok = target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ok else "/portal/"


def _refused(request: HttpRequest, check: auth.PasswordCheck) -> HttpResponse | None:
    """The 429 page for an address that failed too often, or for the pair axes locked."""
    if check.refused is not None:
        return ratelimit.too_many_attempts(request, check.refused, portal=True, reason=ratelimit.SIGN_IN_FROM_ADDRESS)
    if check.axes_locked:
        return HttpResponse(status=429)  # AxesMiddleware swaps in the lock-out page
    return None


def _start_session(request: HttpRequest, parent: ParentAccount, next_url: str) -> HttpResponse:
    request.session.cycle_key()
    if parent.two_factor:
        request.session[PENDING_KEY] = {"id": parent.pk, "at": time.time(), "next": next_url}
        return redirect("portal:sign-in-code")
    return _complete(request, parent, next_url, two_factor=False)


def _complete(request: HttpRequest, parent: ParentAccount, next_url: str, *, two_factor: bool) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    request.session[SESSION_KEY] = parent.pk
    auth.signed_in(request, parent, two_factor=two_factor)
    return redirect(next_url)


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_KEY):
        return redirect("portal:home")
    form = SignInForm(posted(request))
    error = ""
    if request.method == "POST" and form.is_valid():
        check = auth.check_password(request, form.cleaned_data["email"], form.cleaned_data["password"])
        if refused := _refused(request, check):
            return refused
        if check.parent is not None:
            return _start_session(request, check.parent, _safe_next(request))
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
    form = CodeForm(posted(request))
    error = ""
    if request.method == "POST" and form.is_valid():
        passed, refused = auth.check_code(request, parent, form.cleaned_data["token"])
        if refused is not None:
            return ratelimit.too_many_attempts(request, refused, portal=True, reason=TOO_MANY_CODES)
        if passed:
            return _complete(request, parent, pending["next"], two_factor=True)
        error = "The code is wrong or has expired: try the newest code"
    return render(request, "portal/sign_in_code.html", {"form": form, "error": error}, status=400 if error else 200)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    parent_id = request.session.get(SESSION_KEY)
    if parent_id:
        auth.signed_out(request, parent_id)
    request.session.flush()
    return redirect("portal:sign-in")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Create an account from an invitation, or, for an existing account, sign in to add the school."""
    address = ratelimit.address_key(request)
    if not (guessing := ratelimit.refusal("invitation_address", address)).allowed:
        return ratelimit.too_many_attempts(request, guessing, portal=True, reason=TOO_MANY_LINKS)
    found = invitation_for_token(token)
    if found is None and ratelimit.hit("invitation_address", address).just_locked:
        portal_audit(request, "portal_invitation_guessing_locked", parent_id=None)
    if found is None or not found.usable:
        return render(request, "portal/invitation_invalid.html", status=404 if found is None else 410)
    has_account = ParentAccount.objects.filter(email__iexact=found.email).exists()
    form: RegisterForm | SignInForm
    error = ""
    if has_account:
        form = SignInForm(posted(request), initial={"email": found.email})
        if request.method == "POST" and form.is_valid():
            check = auth.check_password(
                request, form.cleaned_data["email"], form.cleaned_data["password"], audit_failure=False
            )
            if refused := _refused(request, check):
                return refused
            parent = check.parent
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
        form = RegisterForm(posted(request))
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
