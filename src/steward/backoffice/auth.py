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
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.audit.actor import Actor, actor_from_request
from steward.audit.services import audit_request
from steward.core import ratelimit
from steward.core.sign_in_providers import SignInProvider
from steward.notifications.email import send_email
from steward.signins import services as signins
from steward.signins.models import EndReason, Kind
from steward.tenancy.models import SignInProviderFactor, User
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


def signed_in(request: HttpRequest, *, enrolled: bool, provider: SignInProvider | None = None) -> None:
    """Both steps passed and the session is the user's (call after `login`); `provider` when the
    first step was an identity provider rather than the password."""
    detail: dict[str, object] = {"two_factor": "totp", "enrolled_now": enrolled}
    if provider is not None:
        detail["provider"] = provider.key
    audit_request(request, action="sign_in", detail=detail)
    _session_started(request)


def _session_started(request: HttpRequest) -> None:
    """Record the new session; the person is emailed if its device or country is new to them."""
    user = request.user
    if isinstance(user, User):  # always, after `login`
        signins.session_started(request, kind=Kind.STAFF, owner_id=user.pk, email=user.email)


def signed_out(request: HttpRequest) -> None:
    if request.user.is_authenticated:
        audit_request(request, action="sign_out")
    signins.session_signed_out(request)


def locked_out(request: HttpRequest, email: str) -> None:
    """django-axes refused this email from this address."""
    audit_request(request, action="sign_in_locked_out", detail={"email": email[:254]})


# --- Signing in with a school's identity provider (Microsoft 365, Google)

# RFC 8176's authentication method values by kind of factor: `amr` asserts several factors when it
# says so (`mfa`) or names factors of two different kinds (a password and a one-time code, a PIN
# and a hardware key). One possession factor alone (`otp`, `hwk`, `swk`) is one factor.
_KNOWLEDGE = frozenset({"pwd", "pin", "kba"})
_POSSESSION = frozenset({"hwk", "swk", "otp", "sms", "tel", "sc"})
_INHERENCE = frozenset({"fpt", "face", "iris", "retina", "vbm"})


@dataclass(frozen=True)
class ProviderCheck:
    """The outcome of an identity provider's sign-in: the user and whether the provider's
    second factor stands for ours, or why not (`message`, for the sign-in page)."""

    user: User | None = None
    two_factor_done: bool = False
    message: str = ""


def asserts_several_factors(amr: object) -> bool:
    """Whether an ID token's `amr` claim says the person used more than one kind of factor."""
    if not isinstance(amr, list):
        return False
    methods = {m for m in amr if isinstance(m, str)}
    if "mfa" in methods:
        return True
    return sum(1 for kind in (_KNOWLEDGE, _POSSESSION, _INHERENCE) if methods & kind) >= 2


def check_provider_identity(request: HttpRequest, provider: SignInProvider, claims: dict[str, object]) -> ProviderCheck:
    """Match a checked ID token to an existing account by a verified email address in one of the
    provider's domains. No account is ever made here; every refusal is audited, naming the provider."""
    raw = claims.get(provider.email_claim)
    email = raw.strip().lower() if isinstance(raw, str) else ""
    name = provider.name
    if "@" not in email:
        return _provider_refused(
            request,
            provider,
            "",
            f"no address in the {provider.email_claim} claim",
            f"{name} did not give Steward your email address, so you cannot sign in with it.",
        )
    domain = email.rpartition("@")[2]
    if domain not in provider.domains:
        return _provider_refused(
            request,
            provider,
            email,
            f"the provider may not vouch for {domain}",
            f"{name} cannot sign in accounts at {domain}. Sign in with your email address and password.",
        )
    if not provider.vouches_for_domains and claims.get("email_verified") is not True:
        return _provider_refused(
            request,
            provider,
            email,
            "the provider has not verified the email address",
            f"{name} has not confirmed that {email} is yours, so Steward cannot use it to sign you in.",
        )
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return _provider_refused(
            request,
            provider,
            email,
            "no account uses the email address",
            f"No Steward account uses {email}. Ask your school's administrator or the ICT service's "
            "service desk for one.",
        )
    if not user.is_active:
        return _provider_refused(
            request,
            provider,
            email,
            "the account is closed",
            f"The Steward account for {email} is closed. Ask the ICT service's service desk if you need it again.",
            user=user,
        )
    return ProviderCheck(user=user, two_factor_done=provider.trust_mfa and asserts_several_factors(claims.get("amr")))


def provider_failed(request: HttpRequest, provider: SignInProvider, reason: str) -> None:
    """The protocol failed before anyone was named (state, code, ID token checks)."""
    audit_request(request, action="sign_in_failed", detail={"provider": provider.key, "reason": reason[:300]})


def _provider_refused(
    request: HttpRequest, provider: SignInProvider, email: str, reason: str, message: str, *, user: User | None = None
) -> ProviderCheck:
    detail = {"provider": provider.key, "email": email[:254], "reason": reason}
    if user is None:
        audit_request(request, action="sign_in_failed", detail=detail)
    else:
        audit_request(request, action="sign_in_failed", user_id=user.pk, actor_label=str(user), detail=detail)
    return ProviderCheck(message=message)


def provider_factor(user: User, provider: SignInProvider) -> SignInProviderFactor:
    """The django-otp device that stands for the provider's second factor (made at first use)."""
    factor: SignInProviderFactor
    factor, _ = SignInProviderFactor.objects.update_or_create(
        user=user,
        provider=provider.key,
        defaults={"name": provider.name[:64], "confirmed": True, "last_used_at": timezone.now()},
    )
    return factor


def signed_in_by_provider(request: HttpRequest, provider: SignInProvider, amr: object) -> None:
    """The provider's sign-in asserted several factors and the session is the user's (after `login`)."""
    methods = [m for m in amr if isinstance(m, str)][:10] if isinstance(amr, list) else []
    audit_request(
        request,
        action="sign_in",
        detail={"two_factor": "identity_provider", "enrolled_now": False, "provider": provider.key, "amr": methods},
    )
    _session_started(request)


# --- Password reset by email (the rules are tenancy/recovery.py's)


def _find(email: str) -> User | None:
    return User.objects.filter(email__iexact=email, is_active=True).first()


def _get(user_id: int) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first()


def _last_sign_in(user: User) -> dt.datetime | None:
    return user.last_login


def _save_password(request: HttpRequest, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    axes_reset(username=user.email)  # a locked-out person who proved their mailbox may try again
    # Whoever else held the account is signed out everywhere (the reset page itself is not signed in);
    # the owner of the mailbox the link went to is the actor.
    actor = Actor(
        label=str(user),
        user_id=user.pk,
        request_id=getattr(request, "request_id", ""),
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    signins.end_other_sessions(kind=Kind.STAFF, owner_id=user.pk, why=EndReason.PASSWORD_CHANGED, actor=actor)


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
        ended = signins.end_other_sessions(
            kind=Kind.STAFF,
            owner_id=user.pk,
            why=EndReason.TWO_FACTOR_OFF,
            actor=actor_from_request(request),
            by=by.full_name,
        )
        audit_request(
            request,
            action="authenticator_reset",
            object_type="tenancy.User",
            object_ids=[user.pk],
            detail={"devices_removed": removed, "user_email": user.email, "sessions_ended": ended},
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
