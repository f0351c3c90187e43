"""Account recovery shared by staff and parents: a password reset link sent by email.

Both faces recover accounts the same way, so the rules live once, here, and each face's auth
service describes its accounts with a `Recovery` (how to find one by email, save a password,
write the audit event, where the reset page is). Nothing here knows a model.

The rules, and why:
- **Single use and expiring.** The link carries Django's password-reset token (an HMAC of the
  account's id, password hash, last sign-in and email, with a timestamp), salted per kind of
  account. Setting the password changes the hash and signing in changes the last sign-in, so a
  used link stops working; one older than `settings.PASSWORD_RESET_TIMEOUT` (an hour) is
  refused. Nothing is stored, so there is no table of live secrets to leak.
- **No account enumeration.** Known and unknown addresses get the same page and the same work:
  one email either way (a link to a known address; to an unknown one, a note that no account
  uses it, so its owner learns someone tried). The person asking learns nothing; only the
  mailbox's owner does.
- **Rate limited** (`core/ratelimit.py`): every request from an address counts
  (`password_reset_address`, refused with the 429 page), and the emails to one address are
  capped (`password_reset_email`); past that cap the page is the same and nothing is sent, so
  the cap tells nothing either.
- **Audited** through the face's callback: asked (with whether an account matched), a link
  refused, the password reset.
- A reset does not sign anyone in and does not touch the second factor: staff still give a code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from steward.core import ratelimit
from steward.notifications.email import send_email

# An account of either kind (a staff `User`, a `ParentAccount`): what recovery reads of it is
# `pk`, `email` and `password` (the hash).
A = TypeVar("A")
Audit = Callable[[HttpRequest, str, Any, dict[str, object]], None]


@dataclass(frozen=True)
class Recovery(Generic[A]):
    """One face's accounts, as recovery sees them."""

    kind: str  # "staff" or "parent": salts the token and prefixes the rate-limit keys
    service: str  # the service's name in emails ("Steward", "parent portal")
    find: Callable[[str], A | None]  # the active account with this (lower-cased) email
    get: Callable[[int], A | None]  # the active account with this id
    last_sign_in: Callable[[A], dt.datetime | None]  # part of the token: signing in spends it
    save_password: Callable[[HttpRequest, A, str], None]  # hash, save, and whatever else the face needs
    audit: Audit  # (request, action, account or None, detail)
    link_path: Callable[[str], str]  # token -> path of the reset page
    sign_in_path: str
    portal: bool  # which 429 page and base template

    @property
    def forgotten_path(self) -> str:
        """Where a link is asked for: `password/` under the sign-in page."""
        return f"{self.sign_in_path}password/"

    @property
    def base_template(self) -> str:
        return "portal/base.html" if self.portal else "base.html"


class _Tokens(PasswordResetTokenGenerator):
    """Django's generator, with the account state of either kind of account in the hash."""

    def __init__(self, kind: str, last_sign_in: Callable[[Any], dt.datetime | None]) -> None:
        super().__init__()
        self.key_salt = f"steward.tenancy.recovery.{kind}"
        self._last_sign_in = last_sign_in

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        signed_in = self._last_sign_in(user)
        stamp = "" if signed_in is None else signed_in.replace(microsecond=0, tzinfo=None).isoformat()
        return f"{user.pk}|{user.password}|{stamp}|{user.email.lower()}|{timestamp}"


def make_token(recovery: Recovery[A], account: A) -> str:
    """`<account id, base64>.<timestamp>-<hmac>`: what the emailed link carries."""
    uid = urlsafe_base64_encode(force_bytes(cast(Any, account).pk))
    return f"{uid}.{_Tokens(recovery.kind, recovery.last_sign_in).make_token(cast(Any, account))}"


def account_for_token(recovery: Recovery[A], token: str) -> A | None:
    """The account a link is for, if the link is whole, unused and not expired; else None."""
    uid, _, secret = token.partition(".")
    try:
        account_id = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not 0 < account_id < 2**63:  # a bigint key: anything else names no account (and is no 500)
        return None
    account = recovery.get(account_id)
    if account is None or not _Tokens(recovery.kind, recovery.last_sign_in).check_token(cast(Any, account), secret):
        return None
    return account


def request_reset(recovery: Recovery[A], request: HttpRequest, email: str, base_url: str) -> ratelimit.Decision | None:
    """Send the reset email (or the no-account email) for `email`; the refusal when the address
    has asked too often (the caller answers 429), else None, whatever happened to the email."""
    address = ratelimit.hit("password_reset_address", ratelimit.address_key(request))
    if not address.allowed:
        return address
    email = email.strip().lower()
    account = recovery.find(email)
    to_mailbox = ratelimit.hit("password_reset_email", f"{recovery.kind}:{email}")
    if to_mailbox.allowed:
        if account is not None:  # to the address on the account, however the person typed it
            link = base_url.rstrip("/") + recovery.link_path(make_token(recovery, account))
            send_email(cast(Any, account).email, f"Reset your {recovery.service} password", _link_body(recovery, link))
        else:
            send_email(email, f"Reset your {recovery.service} password", _no_account_body(recovery))
    detail: dict[str, object] = {"email": email, "account_found": account is not None, "sent": to_mailbox.allowed}
    recovery.audit(request, "password_reset_requested", account, detail)
    if address.just_locked:
        recovery.audit(request, "password_reset_address_locked", None, {"minutes": address.retry_after // 60})
    return None


def reset_password(recovery: Recovery[A], request: HttpRequest, account: A, password: str) -> None:
    """Set the new password (the link is spent with the old hash), audit it and tell the owner."""
    recovery.save_password(request, account, password)
    recovery.audit(request, "password_reset", account, {})
    send_email(
        cast(Any, account).email,
        f"Your {recovery.service} password has been changed",
        f"The password of your {recovery.service} account was changed just now using a reset link.\n\n"
        "If you did not do this, contact your school or the ICT service's service desk at once.\n",
    )


def _minutes() -> int:
    return int(settings.PASSWORD_RESET_TIMEOUT) // 60


def _link_body(recovery: Recovery[Any], link: str) -> str:
    return (
        f"Someone asked to reset the password of your {recovery.service} account.\n\n"
        f"To choose a new password, open this link within {_minutes()} minutes. It works once:\n{link}\n\n"
        "If you did not ask, ignore this email: your password stays as it is.\n"
    )


def _no_account_body(recovery: Recovery[Any]) -> str:
    return (
        f"Someone asked to reset the password of a {recovery.service} account with this email address, "
        "but no account uses it.\n\n"
        "If it was you, you may have signed up with another address: try that one, or ask your school.\n"
        "If it was not you, ignore this email.\n"
    )
