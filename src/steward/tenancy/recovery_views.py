"""The recovery pages both faces serve (`tenancy/recovery.py` holds the rules).

Each face routes its own URLs to these with its `Recovery`; the templates under
`templates/recovery/` extend that face's base template, so a parent never sees staff chrome.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from steward.core import ratelimit
from steward.core.forms import ForgottenPasswordForm, NewPasswordForm, posted
from steward.tenancy.recovery import Recovery, account_for_token, request_reset, reset_password

TOO_MANY_RESETS = "Too many password resets were asked for from your network: asking from here is paused."
CHANGED_MESSAGE = "Your password has been changed. Sign in with your new password."


def forgotten(request: HttpRequest, recovery: Recovery[Any]) -> HttpResponse:
    """Ask for a link. Known or not, a valid address gets the same 'check your email' page."""
    form = ForgottenPasswordForm(posted(request))
    context: dict[str, Any] = {"form": form, "base_template": recovery.base_template, "recovery": recovery}
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        refused = request_reset(recovery, request, email, base_url=request.build_absolute_uri("/"))
        if refused is not None:
            return ratelimit.too_many_attempts(request, refused, portal=recovery.portal, reason=TOO_MANY_RESETS)
        context["email"] = email
        return render(request, "recovery/sent.html", context)
    return render(request, "recovery/forgotten.html", context, status=400 if form.errors else 200)


def reset(request: HttpRequest, token: str, recovery: Recovery[Any]) -> HttpResponse:
    """Choose a new password from a link: 410 for a link that is spent, expired or not whole."""
    account = account_for_token(recovery, token)
    context: dict[str, Any] = {"base_template": recovery.base_template, "recovery": recovery}
    if account is None:
        if request.method == "POST":
            recovery.audit(request, "password_reset_link_refused", None, {})
        return render(request, "recovery/invalid.html", context, status=410)
    form = NewPasswordForm(posted(request), account=account)
    if request.method == "POST" and form.is_valid():
        reset_password(recovery, request, account, form.cleaned_data["password"])
        messages.success(request, CHANGED_MESSAGE)
        return redirect(recovery.sign_in_path)
    context["form"] = form
    return render(request, "recovery/reset.html", context, status=400 if form.errors else 200)
