"""Staff sign-in, recovery and authenticator resets: the rules and their audit events.

The views (`views/sign_in.py`, `views/recovery.py`, `views/authenticators.py`) only read forms
and choose pages; every sign-in success, failure, lock-out and code check, every password reset
and every authenticator reset is audited here, so any other path to these actions (a command, a
future API) is audited the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.utils import reset as axes_reset
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.audit.services import audit_request
from steward.core import ratelimit
from steward.notifications.email import send_email
from steward.tenancy.models import User
from steward.tenancy.recovery import Recovery


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of the password step: the user, or why not (a refusal is a 429 page)."""

    user: User | None = None
    refused: ratelimit.Decision | None = None
    axes_locked: bool = False


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of the code step: passed, a wrong code, or refused (429) before or after it."""

    passed: bool
    refused: ratelimit.Decision | None = None
    throttled: bool = False  # django-otp's own back-off: wait a minute


def check_password(request: HttpRequest, email: str, password: str) -> PasswordCheck:
    """Password step: the address's spraying limit, then django-axes and the password itself."""
    address = ratelimit.address_key(request)
    # django-axes locks one account from one address; this stops one address trying many.
    if not (refused := ratelimit.refusal("sign_in_address", address)).allowed:
        return PasswordCheck(refused=refused)
    email = email.lower()
    user = authenticate(request, email=email, password=password)
    if getattr(request, "axes_locked_out", False):
        return PasswordCheck(axes_locked=True)  # axes audits it through `locked_out`
    if not isinstance(user, User):
        audit_request(request, action="sign_in_failed", detail={"email": email, "reason": "wrong email or password"})
        if ratelimit.hit("sign_in_address", address).just_locked:
            audit_request(request, action="sign_in_address_locked", detail={"email": email})
        return PasswordCheck()
    return PasswordCheck(user=user)


def check_code(request: HttpRequest, user: User, device: TOTPDevice, token: str) -> CodeCheck:
    """Code step. Our own count comes before the check and lives in the database, on top of
    django-otp's back-off (which reads the failure count with the device, so parallel guesses
    could pass it)."""
    key = f"staff:{user.pk}"
    attempt = ratelimit.hit("two_factor", key)
    if not attempt.allowed:
        return CodeCheck(passed=False, refused=attempt)
    allowed, _ = device.verify_is_allowed()
    if allowed and device.verify_token(token):
        ratelimit.clear("two_factor", key)
        return CodeCheck(passed=True)
    wrong = {"reason": "wrong two-factor code"}
    audit_request(request, action="sign_in_failed", user_id=user.pk, actor_label=str(user), detail=wrong)
    if attempt.just_locked:
        audit_request(
            request,
            action="two_factor_locked",
            user_id=user.pk,
            actor_label=str(user),
            detail={"minutes": attempt.retry_after // 60},
        )
        return CodeCheck(passed=False, refused=attempt)
    return CodeCheck(passed=False, throttled=not allowed)


def signed_in(request: HttpRequest, *, enrolled: bool) -> None:
    """Both steps passed and the session is the user's (call after `login`)."""
    audit_request(request, action="sign_in", detail={"two_factor": "totp", "enrolled_now": enrolled})


def signed_out(request: HttpRequest) -> None:
    if request.user.is_authenticated:
        audit_request(request, action="sign_out")


def locked_out(request: HttpRequest, email: str) -> None:
    """django-axes refused this email from this address."""
    audit_request(request, action="sign_in_locked_out", detail={"email": email[:254]})


# --- Password reset by email (the rules are tenancy/recovery.py's)


def _find(email: str) -> User | None:
    return User.objects.filter(email__iexact=email, is_active=True).first()


def _get(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()


def _last_sign_in(user: User) -> dt.datetime | None:
    return user.last_login


def _save_password(user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    axes_reset(username=user.email)  # a locked-out person who proved their mailbox may try again


def _audit(request: HttpRequest, action: str, user: User | None, detail: dict[str, object]) -> None:
    if user is None:
        audit_request(request, action=action, detail=detail)
    else:
        audit_request(request, action=action, user_id=user.pk, actor_label=str(user), detail=detail)


STAFF_RECOVERY: Recovery[User] = Recovery(
    kind="staff",
    service="Steward",
    find=_find,
    get=_get,
    last_sign_in=_last_sign_in,
    save_password=_save_password,
    audit=_audit,
    link_path=lambda token: f"/sign-in/password/{token}/",
    sign_in_path="/sign-in/",
    portal=False,
)


# --- A lost authenticator, reset by a processor administrator


class AuthenticatorResetError(Exception):
    """The reset was refused; the message says why, for the page."""


def authenticator_reset(request: HttpRequest, *, user: User, by: User) -> int:
    """Remove every authenticator `user` has; they set up a new one at their next sign-in (the
    code step enrols when no confirmed device exists). Their sessions lose their second factor
    with the device, their code counter is cleared, they are told by email, and it is audited.
    Returns how many devices were removed."""
    if user.pk == by.pk:
        raise AuthenticatorResetError("You cannot reset your own authenticator: ask another administrator")
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        ratelimit.clear("two_factor", f"staff:{user.pk}")
        audit_request(
            request,
            action="authenticator_reset",
            object_type="tenancy.User",
            object_ids=[user.pk],
            detail={"devices_removed": removed, "user_email": user.email},
        )
        transaction.on_commit(lambda: _tell_owner(user))
    return int(removed)


def _tell_owner(user: User) -> None:
    send_email(
        user.email,
        "Your Steward two-factor authentication was reset",
        f"{user.full_name}, an administrator of the ICT service reset the two-factor authentication of your "
        "Steward account, as happens when an authenticator app is lost.\n\n"
        "Next time you sign in, you will scan a new QR code with your authenticator app.\n\n"
        "If you did not ask for this, contact the ICT service's service desk at once.\n",
    )
