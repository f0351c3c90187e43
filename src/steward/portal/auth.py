"""Parent sign-in: Argon2 passwords, django-axes throttling, optional TOTP, a session of its own.

This is the portal's sign-in service: the checks and every audit event of signing in (success,
failure, lock-out, code) and of recovering a password (`PARENT_RECOVERY`, the rules being
`tenancy/recovery.py`'s) are written here, never by the views.

Parents never become Django `User`s: `ParentBackend` answers `authenticate(parent_email=...)`
(so axes counts and locks out parents' failures exactly as staff's), and the portal keeps the
account id under its own session key. `parent_required` loads the account and its schools in
one query and runs the view inside the tenant scope of those schools only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import quote

from axes.utils import reset as axes_reset
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django_otp.oath import TOTP

from steward.audit.actor import Actor, actor_from_request
from steward.audit.services import audit_record, audit_request
from steward.core import ratelimit
from steward.notifications.email import send_email
from steward.portal.cookies import analytics_accepted, count_page_view
from steward.portal.models import ParentAccount, ParentLink
from steward.portal.selectors import parent_for_request
from steward.signins import services as signins
from steward.signins.models import EndReason, Kind
from steward.tenancy.recovery import Recovery
from steward.tenancy.scope import tenant_scope

SESSION_KEY = "portal_parent"
PENDING_KEY = "portal_pending"
PENDING_SECONDS = 300

View = Callable[..., HttpResponse]


class ParentBackend:
    """Authenticates parent accounts; `get_user` is never used because parents are not logged into
    Django's auth (the portal's session key is separate)."""

    def authenticate(
        self, request: HttpRequest | None, parent_email: str | None = None, password: str | None = None, **kwargs: Any
    ) -> ParentAccount | None:
        if parent_email is None or password is None:
            return None
        parent = ParentAccount.objects.filter(
            email__iexact=parent_email, is_active=True, closed_at__isnull=True
        ).first()
        if parent is None:
            make_password(password)  # take as long as a real check, so timing does not tell who has an account
            return None
        return parent if parent.check_password(password) else None

    def get_user(self, user_id: int) -> None:
        return None


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The email axes counts failures against, for staff (`email`) and parents (`parent_email`)."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("parent_email") or request.POST.get("email")
    return str(value).lower() if value else None


def totp_verify(parent: ParentAccount, token: str) -> bool:
    """A six-digit code from the parent's authenticator, usable once (RFC 6238, ±1 step)."""
    if not parent.totp_key or not token.isdigit():
        return False
    totp = TOTP(bytes.fromhex(parent.totp_key))
    if not totp.verify(int(token), tolerance=1, min_t=parent.totp_last_t + 1):
        return False
    parent.totp_last_t = totp.t()
    parent.save(update_fields=["totp_last_t"])
    return True


def portal_audit(
    request: HttpRequest,
    action: str,
    *,
    parent_id: int | None,
    school_id: int | None = None,
    object_type: str = "",
    object_ids: Iterable[object] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """An audit event for a portal request: the parent account is the actor, never a staff user
    who may share the browser session (which is why this is not `audit_request`)."""
    audit_record(
        action=action,
        actor_label=f"parent account {parent_id}" if parent_id else "",
        organisation_id=school_id,
        school_id=school_id,
        object_type=object_type,
        object_ids=object_ids,
        purpose="parent_portal",
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
        request_id=getattr(request, "request_id", ""),
        detail=detail or {},
    )


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of the password step: the account, or why not (a refusal is a 429 page)."""

    parent: ParentAccount | None = None
    refused: ratelimit.Decision | None = None
    axes_locked: bool = False


def check_password(request: HttpRequest, email: str, password: str, *, audit_failure: bool = True) -> PasswordCheck:
    """The address's spraying limit, then django-axes and the password. A wrong password counts
    against the address too; `audit_failure` is off where the page audits its own outcome
    (an invitation accepted by an existing account)."""
    address = ratelimit.address_key(request)
    if not (refused := ratelimit.refusal("sign_in_address", address)).allowed:
        return PasswordCheck(refused=refused)
    email = email.lower()
    account = authenticate(request, parent_email=email, password=password)
    if isinstance(account, ParentAccount):
        return PasswordCheck(parent=account)
    if getattr(request, "axes_locked_out", False):
        return PasswordCheck(axes_locked=True)  # axes refused without checking: not one more wrong password
    if ratelimit.hit("sign_in_address", address).just_locked:
        portal_audit(request, "portal_sign_in_address_locked", parent_id=None, detail={"email": email})
    if audit_failure:
        portal_audit(request, "portal_sign_in_failed", parent_id=None, detail={"email": email})
    return PasswordCheck()


def check_code(request: HttpRequest, parent: ParentAccount, token: str) -> tuple[bool, ratelimit.Decision | None]:
    """(passed, refusal): counted before it is checked, so parallel guesses cannot all pass
    under the limit; the right code clears the count; the locking attempt is audited once."""
    key = f"parent:{parent.pk}"
    attempt = ratelimit.hit("two_factor", key)
    if not attempt.allowed:
        return False, attempt
    if totp_verify(parent, token):
        ratelimit.clear("two_factor", key)
        return True, None
    portal_audit(request, "portal_sign_in_failed", parent_id=parent.pk, detail={"reason": "wrong two-factor code"})
    if attempt.just_locked:
        portal_audit(
            request, "portal_two_factor_locked", parent_id=parent.pk, detail={"minutes": attempt.retry_after // 60}
        )
        return False, attempt
    return False, None


def signed_in(request: HttpRequest, parent: ParentAccount, *, two_factor: bool) -> None:
    """Every step passed: stamp the sign-in (which also spends any reset link), forget axes's
    failures, audit."""
    ParentAccount.objects.filter(pk=parent.pk).update(last_sign_in_at=timezone.now())
    axes_reset(username=parent.email)
    portal_audit(request, "portal_sign_in", parent_id=parent.pk, detail={"two_factor": two_factor})
    signins.session_started(request, kind=Kind.PARENT, owner_id=parent.pk, email=parent.email)


def signed_out(request: HttpRequest, parent_id: int) -> None:
    portal_audit(request, "portal_sign_out", parent_id=parent_id)
    signins.session_signed_out(request)


# --- Password reset by email (the rules are tenancy/recovery.py's)


def _find(email: str) -> ParentAccount | None:
    return ParentAccount.objects.filter(email__iexact=email, is_active=True, closed_at__isnull=True).first()


def _get(parent_id: int) -> ParentAccount | None:
    return ParentAccount.objects.filter(pk=parent_id, is_active=True, closed_at__isnull=True).first()


def _last_sign_in(parent: ParentAccount) -> dt.datetime | None:
    return parent.last_sign_in_at


def _save_password(request: HttpRequest, parent: ParentAccount, password: str) -> None:
    parent.set_password(password)
    parent.save(update_fields=["password"])
    axes_reset(username=parent.email)
    # Every browser signed in to the account is signed out; the account (whose mailbox the link went
    # to) is the actor, as in `portal_audit`.
    actor = Actor(
        label=f"parent account {parent.pk}",
        request_id=getattr(request, "request_id", ""),
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    signins.end_other_sessions(kind=Kind.PARENT, owner_id=parent.pk, why=EndReason.PASSWORD_CHANGED, actor=actor)


def _audit(request: HttpRequest, action: str, parent: ParentAccount | None, detail: dict[str, object]) -> None:
    portal_audit(request, f"portal_{action}", parent_id=parent.pk if parent else None, detail=detail)


PARENT_RECOVERY: Recovery[ParentAccount] = Recovery(
    kind="parent",
    service="parent portal",
    find=_find,
    get=_get,
    last_sign_in=_last_sign_in,
    save_password=_save_password,
    audit=_audit,
    link_path=lambda token: f"/portal/sign-in/password/{token}/",
    sign_in_path="/portal/sign-in/",
    portal=True,
)


def parent_required(view: View) -> View:
    """Signed in as an active parent account; the view runs in the scope of the parent's schools."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent_id = request.session.get(SESSION_KEY)
        parent = parent_for_request(parent_id) if parent_id else None
        if parent is None:
            return redirect(f"/portal/sign-in/?next={quote(request.path)}")
        request.parent = parent  # type: ignore[attr-defined]
        with tenant_scope(parent.school_ids):  # type: ignore[attr-defined]
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Cache-Control"] += ", private"
        if analytics_accepted(request) and request.resolver_match is not None:
            count_page_view(request, response, request.resolver_match.url_name or "")
        return response

    return wrapped


# --- A parent's lost authenticator, reset by an administrator of one of their schools


def parents_with_two_factor(school_id: int) -> list[ParentAccount]:
    """The school's parent accounts that sign in with a code (call in the school's scope: the
    links are read under row-level security)."""
    linked = ParentLink.objects.filter(school_id=school_id).values("parent_id")
    return list(
        ParentAccount.objects.filter(pk__in=linked, is_active=True, closed_at__isnull=True, totp_confirmed=True)
        .exclude(totp_key="")
        .order_by("full_name", "email")
    )


def parent_at_school(school_id: int, parent_id: int) -> ParentAccount | None:
    """The account, only if it is linked to this school (another school's parent is None)."""
    linked = ParentLink.objects.filter(school_id=school_id, parent_id=parent_id).exists()
    return (
        ParentAccount.objects.filter(pk=parent_id, is_active=True, closed_at__isnull=True).first() if linked else None
    )


def parent_authenticator_reset(request: HttpRequest, *, parent: ParentAccount, school_id: int) -> None:
    """Turn the parent's two-factor sign-in off, so that they can sign in with their password and
    set up a new authenticator under *Your account*; their code counter is cleared, they are told
    by email after commit, and it is audited in the school's log with the staff member as actor."""
    with transaction.atomic():
        ParentAccount.objects.filter(pk=parent.pk).update(totp_key="", totp_confirmed=False, totp_last_t=-1)
        ratelimit.clear("two_factor", f"parent:{parent.pk}")
        ended = signins.end_other_sessions(
            kind=Kind.PARENT,
            owner_id=parent.pk,
            why=EndReason.TWO_FACTOR_OFF,
            actor=actor_from_request(request),
            school_id=school_id,
            by="The school",
        )
        audit_request(
            request,
            action="portal_authenticator_reset",
            object_type="portal.ParentAccount",
            object_ids=[parent.pk],
            detail={"school_id": school_id, "sessions_ended": ended},
        )
        transaction.on_commit(lambda: _tell_parent(parent))


def _tell_parent(parent: ParentAccount) -> None:
    send_email(
        parent.email,
        "Your parent portal two-factor sign-in was reset",
        f"{parent.full_name}, your school reset the two-factor sign-in of your parent portal account, "
        "as happens when an authenticator app is lost.\n\n"
        "You can now sign in with your password alone. To use a code again, open Your account and set "
        "up two-factor sign-in with your new authenticator app.\n\n"
        "If you did not ask for this, contact the school office at once.\n",
    )
