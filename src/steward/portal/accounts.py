"""Commands on a parent's own account: preferences, two-factor, push subscriptions, closing it.

The rules live here, not in the views, so that a view only reads its form, calls one of these and
renders; each returns what the page needs to say and raises `AccountRefused` (with the HTTP status
the refusal deserves) when the request breaks a rule. Each change writes its own audit event, with
the parent account as the actor (`portal.http.parent_actor`), in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.outbound import outbound_refusal
from steward.notifications.push import vapid_public_key
from steward.portal.auth import totp_verify
from steward.portal.models import ParentAccount, ParentLink, PushSubscription
from steward.signins import services as signins
from steward.signins.models import EndReason, Kind


class AccountRefused(Exception):
    """The account change breaks a rule; `status` is the HTTP status the refusal deserves."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _audit(actor: Actor, action: str, detail: dict[str, object] | None = None) -> None:
    audit_action(actor, action=action, school_id=None, object_type="", purpose="parent_portal", detail=detail)


@transaction.atomic
def save_preferences(
    parent: ParentAccount, *, notify_kinds: Iterable[str], notify_by_email: bool, notify_by_push: bool, actor: Actor
) -> None:
    """Store which news the parent wants and by which channels."""
    parent.notify_kinds = sorted(notify_kinds)
    parent.notify_by_email = notify_by_email
    parent.notify_by_push = notify_by_push
    parent.save(update_fields=["notify_kinds", "notify_by_email", "notify_by_push"])
    detail = {"notify_kinds": list(notify_kinds), "notify_by_email": notify_by_email, "notify_by_push": notify_by_push}
    _audit(actor, "portal_preferences_changed", detail)


def pending_two_factor_key(parent: ParentAccount, *, fresh: bool) -> None:
    """Give an account without confirmed two-factor a key to scan.

    `fresh` (the set-up page shown again) replaces an unconfirmed key, so a key that may have been
    seen on an abandoned attempt is never the one that gets confirmed.
    """
    if not parent.totp_key or (not parent.totp_confirmed and fresh):
        parent.totp_key, parent.totp_confirmed = secrets.token_hex(20), False
        parent.save(update_fields=["totp_key", "totp_confirmed"])


@transaction.atomic
def toggle_two_factor(parent: ParentAccount, token: str, *, actor: Actor, keep_session: int | None) -> bool:
    """Turn two-factor on (pending key) or off (confirmed key) if the code is right; returns the new state.

    Turning it off ends every other session of the account (a browser that signed in with the code
    must not stay in without it), all but `keep_session`: the tracked session of the browser in use
    (`signins.services.current_ids`), or None from a path without one, which ends them all.
    Raises `AccountRefused` for a wrong or expired code, changing nothing.
    """
    if not totp_verify(parent, token):
        raise AccountRefused("The code is wrong or has expired: try the newest code")
    turning_on = not parent.totp_confirmed
    parent.totp_confirmed = turning_on
    if not turning_on:
        parent.totp_key = ""
    parent.save(update_fields=["totp_confirmed", "totp_key"])
    _audit(actor, "portal_two_factor_on" if turning_on else "portal_two_factor_off")
    if not turning_on:
        signins.end_other_sessions(
            kind=Kind.PARENT, owner_id=parent.pk, why=EndReason.TWO_FACTOR_OFF, actor=actor, keep_id=keep_session
        )
    return turning_on


@transaction.atomic
def subscribe_push(parent: ParentAccount, *, endpoint: str, p256dh: str, auth: str, actor: Actor) -> PushSubscription:
    """Store the browser's push subscription for this account and turn push notifications on.

    Refuses an endpoint Steward must not call (private addresses, plain HTTP: `outbound_refusal`)
    and one another account holds: moving it would send this account's news to their device.
    """
    refusal = outbound_refusal(endpoint)
    if refusal:
        raise AccountRefused(refusal)
    if PushSubscription.objects.filter(endpoint=endpoint).exclude(parent=parent).exists():
        raise AccountRefused("this endpoint is subscribed by another account", status=409)
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, parent=parent, defaults={"p256dh": p256dh, "auth": auth}
    )
    ParentAccount.objects.filter(pk=parent.pk).update(notify_by_push=True)
    _audit(actor, "portal_push_subscribed")
    return subscription


def push_public_key() -> str:
    """The VAPID public key the browser needs to subscribe."""
    return vapid_public_key()


@transaction.atomic
def close_account(parent: ParentAccount, *, actor: Actor) -> None:
    """Close the account: it can no longer sign in, and its links to children and devices go."""
    parent.closed_at, parent.is_active = timezone.now(), False
    parent.save(update_fields=["closed_at", "is_active"])
    ParentLink.objects.filter(parent=parent).delete()
    PushSubscription.objects.filter(parent=parent).delete()
    signins.forget_parent(parent.pk, actor=actor)  # every browser signed in to it is signed out
    _audit(actor, "portal_account_closed")


def remember_analytics_choice(parent_id: int, *, accepted: bool) -> None:
    """Keep a signed-in parent's analytics-cookie choice on the account, so it follows them."""
    ParentAccount.objects.filter(pk=parent_id).update(analytics_cookies=accepted)
