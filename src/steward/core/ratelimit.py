"""Rate limits and lock-outs kept in PostgreSQL, so every gunicorn worker sees the same count.

A rule (`RATE_LIMITS[name]` in settings: a limit and a window in seconds) allows `limit`
counted events per key per window; the window opens at the first event and the key is refused
until it ends. What counts is the caller's choice: a failure (a wrong password from an address,
a wrong client secret, an invitation link that does not exist) or an attempt (a two-factor
code, counted before it is checked so that parallel guesses cannot all slip in under the limit).

`hit` is one `INSERT .. ON CONFLICT DO UPDATE .. RETURNING` (a fresh window when the old one
has ended); `refusal` is one indexed read for the paths that only count failures, so a
successful request writes nothing. The current time is passed in from Python, not taken from
PostgreSQL's `now()`, so tests can move it.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from steward.core.models import RateLimitCounter

_TABLE = RateLimitCounter._meta.db_table
View = TypeVar("View", bound=Callable[..., HttpResponse])

SIGN_IN_FROM_ADDRESS = "Too many failed sign-ins from your network: signing in from here is paused."


@dataclass(frozen=True)
class Decision:
    """The state of one rule and key after a hit or a read."""

    allowed: bool
    hits: int
    limit: int
    retry_after: int  # whole seconds until the window ends (0 when allowed and nothing counted)

    @property
    def just_locked(self) -> bool:
        """This hit used up the allowance: the moment to write one audit event, not one per refusal."""
        return self.hits == self.limit


def rule(name: str) -> tuple[int, int]:
    """(limit, window seconds) of a named rule from `settings.RATE_LIMITS`."""
    limit, seconds = settings.RATE_LIMITS[name]
    return int(limit), int(seconds)


def address_key(request: HttpRequest) -> str:
    """The client's address as a key: an IPv4 address, or an IPv6 address's /64 (one household
    or one server gets a whole /64, so counting single IPv6 addresses would count nothing)."""
    text = request.META.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return f"address:{text}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"address:{address}"


def digest(name: str, key: str) -> str:
    """The stored key: an HMAC of the rule and the key, so the table names no address or account."""
    return salted_hmac("steward.core.ratelimit", f"{name}\x00{key}", algorithm="sha256").hexdigest()


def _retry_after(ends_at: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((ends_at - now).total_seconds()))


def hit(name: str, key: str, *, now: dt.datetime | None = None) -> Decision:
    """Count one event for `key` under rule `name`; refused once more than `limit` were counted."""
    limit, seconds = rule(name)
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_TABLE} AS c (key, window_ends_at, hits) VALUES (%s, %s, 1)
            ON CONFLICT (key) DO UPDATE SET
                hits = CASE WHEN c.window_ends_at <= %s THEN 1 ELSE c.hits + 1 END,
                window_ends_at = CASE WHEN c.window_ends_at <= %s THEN EXCLUDED.window_ends_at
                                      ELSE c.window_ends_at END
            RETURNING hits, window_ends_at
            """,  # noqa: S608 - the table name is our model's, every value is a parameter  # nosec B608
            [digest(name, key), now + dt.timedelta(seconds=seconds), now, now],
        )
        hits, ends_at = cursor.fetchone()
    return Decision(allowed=hits <= limit, hits=hits, limit=limit, retry_after=_retry_after(ends_at, now))


def refusal(name: str, key: str, *, now: dt.datetime | None = None) -> Decision:
    """Without counting: is `key` refused now, because the window's allowance is used up?"""
    limit, _ = rule(name)
    now = now or timezone.now()
    row = (
        RateLimitCounter.objects.filter(key=digest(name, key), window_ends_at__gt=now)
        .values_list("hits", "window_ends_at")
        .first()
    )
    if row is None or row[0] < limit:
        return Decision(allowed=True, hits=row[0] if row else 0, limit=limit, retry_after=0)
    return Decision(allowed=False, hits=row[0], limit=limit, retry_after=_retry_after(row[1], now))


def clear(name: str, key: str) -> None:
    """Forget `key`'s count (after it proved itself, e.g. the right two-factor code)."""
    RateLimitCounter.objects.filter(key=digest(name, key)).delete()


def sweep(*, now: dt.datetime | None = None) -> int:
    """Delete the counters whose window has ended; returns how many."""
    deleted, _ = RateLimitCounter.objects.filter(window_ends_at__lte=now or timezone.now()).delete()
    return deleted


def too_many_attempts(request: HttpRequest, decision: Decision, *, portal: bool, reason: str) -> HttpResponse:
    """The page a person sees when refused: 429 with Retry-After, saying why and for how long."""
    minutes = math.ceil(decision.retry_after / 60)
    template = "portal/too_many_attempts.html" if portal else "backoffice/too_many_attempts.html"
    response = render(request, template, {"reason": reason, "minutes": minutes}, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


def per_address(name: str, reason: str) -> Callable[[View], View]:
    """Count every request to a view from one address under rule `name`; past the allowance the
    view is not run and the reader gets the 429 page. For public pages that cost real work to
    build (the generated privacy notices): anyone may read them, but no one may keep the server
    busy building them."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            decision = hit(name, address_key(request))
            if not decision.allowed:
                return too_many_attempts(request, decision, portal=True, reason=reason)
            return view(request, *args, **kwargs)

        return cast(View, limited)

    return decorate
