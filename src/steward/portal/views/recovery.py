"""Parent password reset by email: the shared pages (`tenancy/recovery_views.py`) with parent accounts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from steward.portal.auth import PARENT_RECOVERY
from steward.tenancy import recovery_views


def password_forgotten(request: HttpRequest) -> HttpResponse:
    return recovery_views.forgotten(request, PARENT_RECOVERY)


def password_reset(request: HttpRequest, token: str) -> HttpResponse:
    return recovery_views.reset(request, token, PARENT_RECOVERY)
