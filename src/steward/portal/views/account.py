"""The parent's own account: notification preferences, two-factor, push subscriptions, corrections
to their contact details (sent to the school as a rectification request), closing the account."""

from __future__ import annotations

import base64
import json
import secrets

import segno
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from steward.core.outbound import outbound_refusal
from steward.portal.auth import parent_required, portal_audit, totp_verify
from steward.portal.forms import CodeForm, CorrectionForm, PreferencesForm
from steward.portal.models import ParentAccount, ParentLink, PushSubscription
from steward.portal.services import correction_request


def _parent(request: HttpRequest) -> ParentAccount:
    return request.parent  # type: ignore[attr-defined, no-any-return]


def _audit(request: HttpRequest, action: str, **detail: object) -> None:
    portal_audit(request, action, parent_id=_parent(request).pk, detail=dict(detail))


@parent_required
def account(request: HttpRequest) -> HttpResponse:
    parent = _parent(request)
    initial = {
        "notify_kinds": parent.notify_kinds,
        "notify_by_email": parent.notify_by_email,
        "notify_by_push": parent.notify_by_push,
    }
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        parent.notify_kinds = sorted(form.cleaned_data["notify_kinds"])
        parent.notify_by_email = form.cleaned_data["notify_by_email"]
        parent.notify_by_push = form.cleaned_data["notify_by_push"]
        parent.save(update_fields=["notify_kinds", "notify_by_email", "notify_by_push"])
        _audit(request, "portal_preferences_changed", **form.cleaned_data)
        return redirect("/portal/account/?saved=1")
    links = list(ParentLink.objects.filter(parent=parent).select_related("school").order_by("school__name"))
    context = {"form": form, "parent": parent, "links": links, "saved": "saved" in request.GET}
    return render(request, "portal/account.html", context)


@parent_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn two-factor on (scan, then confirm a code) or off (confirm a code)."""
    parent = _parent(request)
    if not parent.totp_key or (not parent.totp_confirmed and request.method == "GET"):
        parent.totp_key, parent.totp_confirmed = secrets.token_hex(20), False
        parent.save(update_fields=["totp_key", "totp_confirmed"])
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if totp_verify(parent, form.cleaned_data["token"]):
            turning_on = not parent.totp_confirmed
            parent.totp_confirmed = turning_on
            if not turning_on:
                parent.totp_key = ""
            parent.save(update_fields=["totp_confirmed", "totp_key"])
            _audit(request, "portal_two_factor_on" if turning_on else "portal_two_factor_off")
            return redirect("portal:account")
        error = "The code is wrong or has expired: try the newest code"
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
def correction(request: HttpRequest, link_id: int) -> HttpResponse:
    parent = _parent(request)
    link = ParentLink.objects.select_related("school").filter(pk=link_id, parent=parent).first()
    if link is None:
        return render(request, "portal/not_found.html", status=404)
    form = CorrectionForm(request.POST or None)
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
def push_subscribe(request: HttpRequest) -> HttpResponse:
    """Store the browser's PushSubscription (the JSON `PushSubscription.toJSON()` gives)."""
    try:
        data = json.loads(request.body)
        endpoint, keys = str(data["endpoint"]), data["keys"]
        p256dh, auth = str(keys["p256dh"]), str(keys["auth"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "expected {endpoint, keys: {p256dh, auth}}"}, status=400)
    refusal = outbound_refusal(endpoint)
    if refusal:
        return JsonResponse({"error": refusal}, status=400)
    if PushSubscription.objects.filter(endpoint=endpoint).exclude(parent=_parent(request)).exists():
        # Never move another account's subscription: its device would receive this account's news.
        return JsonResponse({"error": "this endpoint is subscribed by another account"}, status=409)
    PushSubscription.objects.update_or_create(
        endpoint=endpoint, parent=_parent(request), defaults={"p256dh": p256dh, "auth": auth}
    )
    ParentAccount.objects.filter(pk=_parent(request).pk).update(notify_by_push=True)
    _audit(request, "portal_push_subscribed")
    return JsonResponse({"subscribed": True}, status=201)


@parent_required
def push_key(request: HttpRequest) -> HttpResponse:
    from steward.notifications.push import vapid_public_key

    return JsonResponse({"publicKey": vapid_public_key()})


@parent_required
def close_account(request: HttpRequest) -> HttpResponse:
    parent = _parent(request)
    if request.method == "POST":
        parent.closed_at, parent.is_active = timezone.now(), False
        parent.save(update_fields=["closed_at", "is_active"])
        ParentLink.objects.filter(parent=parent).delete()
        PushSubscription.objects.filter(parent=parent).delete()
        _audit(request, "portal_account_closed")
        request.session.flush()
        return render(request, "portal/closed.html")
    return render(request, "portal/close_account.html")
