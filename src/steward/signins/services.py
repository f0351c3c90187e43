"""Starting, touching and ending tracked sessions, and telling a person about a new sign-in.

The browser's Django session holds, under `SESSION_DATA_KEY`, one entry per kind signed in on it
(staff, parent: a member of staff may also hold a parent account in the same browser) with the
tracked row's id and the times it started and was last seen. The middleware reads those times from
the session it has already loaded, so enforcing the limits costs no query; it writes (the session and
`last_seen_at`) at most once a minute.

Ending a session deletes its Django session row, found by the hash of its key (set-based, in one
statement), and marks the tracked row ended: that browser's next request carries a key that no
longer exists, so it is signed out. Every way a session ends early (by its owner, an administrator,
a limit, a password or two-factor change, a closed or erased account) passes through `end_sessions`
or `expire`, which write the audit event themselves with the caller's `Actor`: no caller can end a
session unaudited (DESIGN.md "Services audit; views don't"). Signing out is audited by the faces'
sign-in services, as part of signing out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import (
    clear_expired,
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.notifications.email import send_email
from steward.signins.models import EndReason, Kind, ParentSession, StaffSession, TrackedSession
from steward.signins.places import device_of, place_of
from steward.signins.privacy import KEPT_AFTER_END
from steward.tenancy.scope import estate_scope

SESSION_DATA_KEY = "steward_tracked"
TOUCH_SECONDS = 60
SEEN_WINDOW = dt.timedelta(days=90)
NEW_SIGN_IN_SUBJECT = "New sign-in to Steward"

Model = type[StaffSession] | type[ParentSession]


def key_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def model_of(kind: str) -> Model:
    return StaffSession if kind == Kind.STAFF else ParentSession


def _owner(kind: str, owner_id: int) -> dict[str, int]:
    return {"user_id": owner_id} if kind == Kind.STAFF else {"parent_id": owner_id}


def idle_limit(kind: str) -> int:
    """Seconds without a request before a session ends (settings, configurable per kind)."""
    return int(settings.STEWARD_SESSION_IDLE_STAFF if kind == Kind.STAFF else settings.STEWARD_SESSION_IDLE_PARENT)


def _current_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key)


def entries_of(request: HttpRequest) -> dict[str, dict[str, Any]]:
    value = request.session.get(SESSION_DATA_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _rekey(request: HttpRequest, digest: str) -> None:
    """Signing in cycles the session key: rows of another kind already signed in on this browser
    follow it, so that ending either still finds the Django session."""
    for kind, entry in entries_of(request).items():
        model_of(kind).objects.filter(pk=entry["id"], ended_at__isnull=True).update(key_hash=digest)


def session_started(
    request: HttpRequest, *, kind: str, owner_id: int, email: str = "", notify: bool = True
) -> TrackedSession:
    """Record the session the request has just signed in (call after the key was cycled). With
    `notify`, a device or country this person has not used in 90 days gets them an email after commit."""
    digest = key_hash(_current_key(request))
    earlier = entries_of(request).get(kind)
    if earlier:  # signing in again on this browser: the earlier session of this kind is over
        model_of(kind).objects.filter(pk=earlier["id"], ended_at__isnull=True).update(
            ended_at=timezone.now(), ended_why=EndReason.SIGNED_OUT
        )
    _rekey(request, digest)
    ip = request.META.get("REMOTE_ADDR") or None
    agent = request.headers.get("User-Agent", "")[:500]
    place = place_of(ip)
    now = timezone.now()
    model = model_of(kind)
    row: TrackedSession = model.objects.create(
        key_hash=digest,
        started_at=now,
        last_seen_at=now,
        ip_address=ip,
        country_code=place.country_code,
        country_name=place.country_name,
        network=place.network,
        device=device_of(agent),
        user_agent=agent,
        **_owner(kind, owner_id),
    )
    entries = entries_of(request)
    entries[kind] = {"id": row.pk, "started": time.time(), "seen": time.time()}
    request.session[SESSION_DATA_KEY] = entries
    if notify and email and _is_new(model, kind, owner_id, row):
        link = settings.STEWARD_BASE_URL.rstrip("/") + (
            "/account/sessions/" if kind == Kind.STAFF else "/portal/account/sessions/"
        )
        body = new_sign_in_body(row, link)
        transaction.on_commit(lambda: send_email(email, NEW_SIGN_IN_SUBJECT, body))
    return row


def _is_new(model: Model, kind: str, owner_id: int, row: TrackedSession) -> bool:
    """This device or this country was not used by the person in the last 90 days. The account's
    very first sign-in is not news to its owner, who has just set it up: nothing is sent."""
    if not model.objects.filter(**_owner(kind, owner_id)).exclude(pk=row.pk).exists():
        return False
    recent = model.objects.filter(**_owner(kind, owner_id), started_at__gte=row.started_at - SEEN_WINDOW).exclude(
        pk=row.pk
    )
    return not recent.filter(device=row.device).exists() or not recent.filter(country_code=row.country_code).exists()


def new_sign_in_body(row: TrackedSession, link: str) -> str:
    """Time, device, approximate place and how to end the session; nothing else about the person
    (no name, no address, no network): an email can be read by others on the way."""
    when = timezone.localtime(row.started_at).strftime("%H:%M on %d %B %Y (UK time)")
    return (
        "Someone signed in to your Steward account from a device or country you have not used in the last 90 days.\n\n"
        f"When: {when}\n"
        f"Device: {row.device}\n"
        f"Approximate place: {row.place}\n\n"
        "If this was you, you need do nothing.\n\n"
        "If it was not you:\n"
        f"1. End the session on your sessions page: {link}\n"
        "2. Sign out, then choose 'Forgotten your password?' on the sign-in page to set a new password.\n"
    )


def _delete_django_sessions(digests: Iterable[str]) -> None:
    """Delete the Django session rows with these key hashes: one statement, whatever their number."""
    digests = sorted(set(digests))
    if not digests:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_session WHERE encode(sha256(convert_to(session_key, 'UTF8')), 'hex') = ANY(%s)",
            [digests],
        )


def _audit_ended(
    model: Model, ids: list[int], *, why: str, actor: Actor, school_id: int | None, detail: dict[str, object]
) -> None:
    """One event for the sessions one act ended: `portal_session_ended` for parents' (the portal's
    purpose), `session_ended` for staff's, naming the rows and why."""
    parent = model is ParentSession
    audit_action(
        actor,
        action="portal_session_ended" if parent else "session_ended",
        school_id=school_id,
        object_type="signins.ParentSession" if parent else "signins.StaffSession",
        object_ids=ids,
        purpose="parent_portal" if parent else "session security",
        detail={"why": why, **detail},
    )


def end_sessions(
    model: Model, ids: Iterable[int], *, why: str, actor: Actor, school_id: int | None = None, by: str = ""
) -> list[int]:
    """End these tracked sessions (those still active): their browsers are signed out. Another kind's
    session on the same browser ends with it, because it is the same Django session. Audited here,
    with `actor` (and `school_id`, the school whose administrator acted), when anything ended.
    `by` is written on the rows when someone other than the owner ended them. Returns the ids ended."""
    now = timezone.now()
    owner = "user_id" if model is StaffSession else "parent_id"
    with transaction.atomic():
        found = list(
            model.objects.select_for_update()
            .filter(pk__in=list(ids), ended_at__isnull=True)
            .values_list("pk", "key_hash", owner)
        )
        if not found:
            return []
        digests = [d for _, d, _ in found]
        _delete_django_sessions(digests)
        ended = [pk for pk, _, _ in found]
        model.objects.filter(pk__in=ended).update(ended_at=now, ended_why=why, ended_by=by[:200])
        other: Model = ParentSession if model is StaffSession else StaffSession
        alongside = other.objects.filter(key_hash__in=digests, ended_at__isnull=True)
        with_it = sorted(alongside.values_list("pk", flat=True))
        alongside.update(ended_at=now, ended_why=why, ended_by=by[:200])
        owners = sorted({o for _, _, o in found})
        other_kind = Kind.PARENT if other is ParentSession else Kind.STAFF
        detail: dict[str, object] = {"owners": owners}
        if with_it:
            detail["ended_with_them"] = [f"{other_kind}:{pk}" for pk in with_it]
        _audit_ended(model, ended, why=why, actor=actor, school_id=school_id, detail=detail)
    return ended


def end_other_sessions(
    *,
    kind: str,
    owner_id: int,
    why: str,
    actor: Actor,
    keep_id: int | None = None,
    school_id: int | None = None,
    by: str = "",
) -> int:
    """End every active session of the person except the tracked session `keep_id` (the browser in
    use: password changed, two-factor turned off). Without it (a reset by email, an administrator's
    reset, a closed account) all end. Audited by `end_sessions`. Returns how many ended."""
    model = model_of(kind)
    active = model.objects.filter(**_owner(kind, owner_id), ended_at__isnull=True)
    if keep_id is not None:
        active = active.exclude(pk=keep_id)
    ids = list(active.values_list("pk", flat=True))
    return len(end_sessions(model, ids, why=why, actor=actor, school_id=school_id, by=by))


def session_signed_out(request: HttpRequest) -> None:
    """The person signs out of this browser (call before the session is flushed): every tracked
    session on it is ended, since the flush ends them all."""
    now = timezone.now()
    for kind, entry in entries_of(request).items():
        model_of(kind).objects.filter(pk=entry["id"], ended_at__isnull=True).update(
            ended_at=now, ended_why=EndReason.SIGNED_OUT
        )


def forget_parent(parent_id: int, *, actor: Actor) -> int:
    """The parent account is closed or erased: end its sessions (deleting their Django sessions, so
    every browser signed in to it is signed out; audited) and delete their records. The one path by
    which parent sessions go with their account. Returns the records deleted."""
    with transaction.atomic():
        end_other_sessions(kind=Kind.PARENT, owner_id=parent_id, why=EndReason.ACCOUNT_CLOSED, actor=actor)
        deleted, _ = ParentSession.objects.filter(parent_id=parent_id).delete()
    return deleted


def current_ids(request: HttpRequest) -> dict[str, int]:
    """The tracked row ids of the request's own browser, by kind (to mark "this browser")."""
    return {kind: int(entry["id"]) for kind, entry in entries_of(request).items()}


def adopt(request: HttpRequest, *, kind: str, owner_id: int) -> None:
    """A signed-in session this app has no record of (made before it was installed, or by a test
    client's `force_login`): record it from now on, without an email."""
    session_started(request, kind=kind, owner_id=owner_id, notify=False)


def expire(request: HttpRequest, why: str, *, actor: Actor) -> None:
    """A limit was reached: end every tracked session on this browser, empty the session, and audit
    `session_expired` (with `actor`: the middleware's, who is nobody yet, from the request's address)."""
    now = timezone.now()
    ended = current_ids(request)
    for kind, pk in ended.items():
        model_of(kind).objects.filter(pk=pk, ended_at__isnull=True).update(ended_at=now, ended_why=why)
    request.session.flush()
    audit_action(
        actor,
        action="session_expired",
        school_id=None,
        object_type="signins.TrackedSession",
        object_ids=[f"{kind}:{pk}" for kind, pk in ended.items()],
        detail={"why": why},
    )


def touch(request: HttpRequest, entries: dict[str, dict[str, Any]]) -> bool:
    """Stamp `last_seen_at` (at most once a minute); False when a row was ended meanwhile (by the
    person elsewhere, an administrator, a password change), so the caller signs the browser out."""
    now = timezone.now()
    for kind, entry in entries.items():
        updated = model_of(kind).objects.filter(pk=entry["id"], ended_at__isnull=True).update(last_seen_at=now)
        if not updated:
            return False
        entry["seen"] = time.time()
    request.session[SESSION_DATA_KEY] = entries
    return True


@dataclass(frozen=True)
class Swept:
    """What one sweep deleted: Django sessions past their expiry, and session records past retention."""

    django_sessions: int
    staff_sessions: int
    parent_sessions: int


def _past_retention(model: Model, cutoff: dt.datetime) -> QuerySet[Any]:
    """Records ended before `cutoff` (or, never ended, last seen before it), except each person's
    latest: without it, a sign-in after a long absence would look like the account's very first,
    and `_is_new` would send no email however strange the device or country."""
    owner = "user_id" if model is StaffSession else "parent_id"
    latest = model.objects.values(owner).annotate(last=Max("pk")).values("last")
    old = Q(ended_at__lt=cutoff) | Q(ended_at__isnull=True, last_seen_at__lt=cutoff)
    return model.objects.filter(old).exclude(pk__in=latest)


def sweep_sessions(*, now: dt.datetime, actor: Actor) -> Swept:
    """The daily sweep (`signins.tasks.sweep_sessions_task`): delete Django sessions past their
    expiry date (what `clearsessions` does: a browser that never came back leaves its row behind
    for ever otherwise), and session records that ended more than `privacy.KEPT_AFTER_END` ago (a
    record never ended, its browser gone, counts from when it was last seen), except each person's
    latest. Set-based, idempotent; audited with the counts (no one's data in the event)."""
    cutoff = now - KEPT_AFTER_END
    with transaction.atomic():
        # Session.objects, as the database engine's `SessionStore.clear_expired` does, for the count.
        django_sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
        staff, _ = _past_retention(StaffSession, cutoff).delete()
        parent, _ = _past_retention(ParentSession, cutoff).delete()
        swept = Swept(django_sessions, staff, parent)
        audit_action(
            actor,
            action="sessions_swept",
            school_id=None,
            object_type="signins.TrackedSession",
            detail={**asdict(swept), "kept_days": KEPT_AFTER_END.days},
        )
    return swept


@dataclass(frozen=True)
class TokensSwept:
    """What one token sweep deleted (counted before and after django-oauth-toolkit's own sweep)."""

    access_tokens: int
    refresh_tokens: int
    id_tokens: int
    grants: int


def sweep_tokens(*, actor: Actor) -> TokensSwept:
    """The daily sweep of OAuth credentials past their use (`signins.tasks.sweep_tokens_task`): what
    django-oauth-toolkit's `cleartokens` does (`oauth2_provider.models.clear_expired`): access tokens
    expired (an hour after issue), ID tokens and authorisation codes expired, and refresh tokens an hour
    after their access token expired (sign-in apps get none honoured, API clients none issued). Each
    names the person it was issued to, so without the sweep an agent's nightly token or a staff
    sign-in to an app was kept for ever. Run in the estate's scope: a sign-in token's link to its
    consent (`rostering.SignInToken`, a school's row) goes with its token. Audited as `tokens_swept`
    with the counts."""
    models = (get_access_token_model(), get_refresh_token_model(), get_id_token_model(), get_grant_model())
    with transaction.atomic(), estate_scope():
        before = [model.objects.count() for model in models]
        clear_expired()
        after = [model.objects.count() for model in models]
        swept = TokensSwept(*(b - a for b, a in zip(before, after, strict=True)))
        audit_action(
            actor,
            action="tokens_swept",
            school_id=None,
            object_type="oauth2_provider.AccessToken",
            detail=asdict(swept),
        )
    return swept
