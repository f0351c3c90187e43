"""The cookies the portal sets, in one list: the cookie policy page is rendered from it, the
consent banner reads it, and a browser test compares it with what a real session receives.

Only strictly necessary cookies are set unless the parent accepts analytics cookies. The
analytics are first-party and aggregate: a daily count of page views and of new visitors per
page; the analytics cookie holds only the date of the visitor's first visit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from steward.core import replicas

POLICY_COOKIE = "steward_cookies_policy"
ANALYTICS_COOKIE = "steward_analytics"
ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Cookie:
    name: str
    purpose: str
    expires: str
    necessary: bool


def portal_cookies() -> tuple[Cookie, ...]:
    return (
        Cookie(settings.SESSION_COOKIE_NAME, "Keeps you signed in to the parent portal.", "8 hours", True),
        Cookie(
            settings.CSRF_COOKIE_NAME,
            "Stops other websites from sending forms to the portal in your name.",
            "1 year",
            True,
        ),
        Cookie(POLICY_COOKIE, "Remembers whether you accepted analytics cookies.", "1 year", True),
        Cookie(
            ANALYTICS_COOKIE,
            "Only if you accept analytics cookies: the date of your first visit, so that we can count how many "
            "people use each page (never who they are).",
            "1 year",
            False,
        ),
        *pin_cookies(),
    )


def pin_cookies() -> tuple[Cookie, ...]:
    """The read-replica pin (`core.replicas`), set only where replicas are configured."""
    if not replicas.aliases():
        return ()
    return (
        Cookie(
            replicas.PIN_COOKIE,
            "Only after you send a form: for a short time, your pages are read from the main database, so they show "
            "what you have just changed.",
            f"{replicas.pin_seconds()} seconds",
            True,
        ),
    )


def analytics_accepted(request: HttpRequest) -> bool | None:
    """True or False once the parent chose; None before they have."""
    value = request.COOKIES.get(POLICY_COOKIE)
    return {"analytics=yes": True, "analytics=no": False}.get(value or "")


def remember_choice(request: HttpRequest, response: HttpResponse, *, analytics: bool) -> None:
    response.set_cookie(
        POLICY_COOKIE,
        "analytics=yes" if analytics else "analytics=no",
        max_age=ONE_YEAR,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    if not analytics and ANALYTICS_COOKIE in request.COOKIES:
        response.delete_cookie(ANALYTICS_COOKIE)


def count_page_view(request: HttpRequest, response: HttpResponse, page: str) -> None:
    """With consent only: add this view to today's aggregate, and mark the visitor as returning."""
    from steward.portal.models import PortalPageViews

    new_visitor = ANALYTICS_COOKIE not in request.COOKIES
    today = timezone.localdate()
    updated = PortalPageViews.objects.filter(day=today, page=page).update(
        views=F("views") + 1, new_visitors=F("new_visitors") + int(new_visitor)
    )
    if not updated:
        PortalPageViews.objects.get_or_create(
            day=today, page=page, defaults={"views": 1, "new_visitors": int(new_visitor)}
        )
    if new_visitor:
        response.set_cookie(
            ANALYTICS_COOKIE,
            dt.date.isoformat(today),
            max_age=ONE_YEAR,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


def cookie_context(request: HttpRequest) -> dict[str, object]:
    """Template context: whether to show the cookie banner (portal pages only)."""
    if not request.path.startswith("/portal/"):
        return {}
    return {"cookie_choice_made": analytics_accepted(request) is not None}
