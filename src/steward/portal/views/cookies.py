"""The cookie policy page and the consent choice (also offered by the banner on every page)."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from steward.portal.accounts import remember_analytics_choice
from steward.portal.auth import SESSION_KEY
from steward.portal.cookies import analytics_accepted, portal_cookies, remember_choice
from steward.portal.http import ParentRequest
from steward.portal.selectors import parent_for_request


def cookies(request: ParentRequest) -> HttpResponse:
    if request.method == "POST":
        choice = request.POST.get("analytics") == "yes"
        back = request.POST.get("next", "")
        if not back.startswith("/portal/") or not url_has_allowed_host_and_scheme(back, {request.get_host()}):
            back = "/portal/cookies/?saved=1"
        response = redirect(back)
        remember_choice(request, response, analytics=choice)
        parent_id = request.session.get(SESSION_KEY)
        if parent_id:
            remember_analytics_choice(parent_id, accepted=choice)
        return response
    parent_id = request.session.get(SESSION_KEY)
    parent = parent_for_request(parent_id) if parent_id else None
    if parent is not None:  # signed in: the page keeps the portal's menu and sign-out
        request.parent = parent
    context = {
        "necessary": [c for c in portal_cookies() if c.necessary],
        "optional": [c for c in portal_cookies() if not c.necessary],
        "accepted": analytics_accepted(request),
        "saved": "saved" in request.GET,
    }
    return render(request, "portal/cookies.html", context)


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /portal/ so that its scope covers the portal."""
    path = finders.find("steward/sw.js")
    with open(str(path), encoding="utf-8") as f:
        response = HttpResponse(f.read(), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/portal/"
    return response
