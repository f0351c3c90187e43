"""The parent's own account: notification preferences, two-factor, push subscriptions, corrections
to their contact details (sent to the school as a rectification request), closing the account.

Each view reads its form, calls `portal.accounts` (or `portal.services`), which holds the rules,
and renders the answer."""

from __future__ import annotations

import base64
import json

import segno
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from steward.core.forms import posted
from steward.portal import accounts
from steward.portal.auth import parent_required
from steward.portal.forms import CodeForm, CorrectionForm, PreferencesForm
from steward.portal.http import ParentRequest, parent_actor
from steward.portal.selectors import parent_link, parent_links
from steward.portal.services import correction_request
from steward.signins import services as signins
from steward.signins.models import Kind


@parent_required
def account(request: ParentRequest) -> HttpResponse:
    parent = request.parent
    initial = {
        "notify_kinds": parent.notify_kinds,
        "notify_by_email": parent.notify_by_email,
        "notify_by_push": parent.notify_by_push,
    }
    form = PreferencesForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        accounts.save_preferences(
            parent,
            notify_kinds=form.cleaned_data["notify_kinds"],
            notify_by_email=form.cleaned_data["notify_by_email"],
            notify_by_push=form.cleaned_data["notify_by_push"],
            actor=parent_actor(request),
        )
        return redirect("/portal/account/?saved=1")
    context = {"form": form, "parent": parent, "links": parent_links(parent), "saved": "saved" in request.GET}
    return render(request, "portal/account.html", context)


@parent_required
def two_factor(request: ParentRequest) -> HttpResponse:
    """Turn two-factor on (scan, then confirm a code) or off (confirm a code)."""
    parent = request.parent
    accounts.pending_two_factor_key(parent, fresh=request.method == "GET")
    form = CodeForm(posted(request))
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            accounts.toggle_two_factor(
                parent,
                form.cleaned_data["token"],
                actor=parent_actor(request),
                keep_session=signins.current_ids(request).get(Kind.PARENT),
            )
        except accounts.AccountRefused as refused:
            error = refused.message
        else:
            return redirect("portal:account")
    context: dict[str, object] = {"form": form, "error": error, "enabled": parent.totp_confirmed}
    if not parent.totp_confirmed:
        key = bytes.fromhex(parent.totp_key)
        secret = base64.b32encode(key).decode().rstrip("=")
        url = (
            f"otpauth://totp/Steward%20parent%20portal:{parent.email}?secret={secret}&issuer=Steward&digits=6&period=30"
        )
        context |= {"qr": segno.make(url, error="m").svg_data_uri(scale=4), "secret": secret}
    return render(request, "portal/two_factor.html", context, status=400 if error else 200)


@parent_required
def correction(request: ParentRequest, link_id: int) -> HttpResponse:
    parent = request.parent
    link = parent_link(parent, link_id)
    if link is None:
        return render(request, "portal/not_found.html", status=404)
    form = CorrectionForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            correction_request(parent=parent, link=link, correction=form.cleaned_data["correction"])
        except ValidationError as e:
            form.add_error("correction", e)
        else:
            return render(request, "portal/correction_sent.html", {"school": link.school})
    return render(request, "portal/correction.html", {"form": form, "link": link}, status=400 if form.errors else 200)


@parent_required
@require_POST
def push_subscribe(request: ParentRequest) -> HttpResponse:
    """Store the browser's PushSubscription (the JSON `PushSubscription.toJSON()` gives)."""
    try:
        data = json.loads(request.body)
        endpoint, keys = str(data["endpoint"]), data["keys"]
        p256dh, auth = str(keys["p256dh"]), str(keys["auth"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "expected {endpoint, keys: {p256dh, auth}}"}, status=400)
    try:
        accounts.subscribe_push(
            request.parent, endpoint=endpoint, p256dh=p256dh, auth=auth, actor=parent_actor(request)
        )
    except accounts.AccountRefused as refused:
        return JsonResponse({"error": refused.message}, status=refused.status)
    return JsonResponse({"subscribed": True}, status=201)


@parent_required
def push_key(request: ParentRequest) -> HttpResponse:
    return JsonResponse({"publicKey": accounts.push_public_key()})


@parent_required
def close_account(request: ParentRequest) -> HttpResponse:
    if request.method == "POST":
        accounts.close_account(request.parent, actor=parent_actor(request))
        request.session.flush()
        return render(request, "portal/closed.html")
    return render(request, "portal/close_account.html")
