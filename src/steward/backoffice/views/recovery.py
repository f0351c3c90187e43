"""Staff password reset by email: the shared pages (`tenancy/recovery_views.py`) with staff accounts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from steward.backoffice.auth import STAFF_RECOVERY
from steward.tenancy import recovery_views


def password_forgotten(request: HttpRequest) -> HttpResponse:
    return recovery_views.forgotten(request, STAFF_RECOVERY)


def password_reset(request: HttpRequest, token: str) -> HttpResponse:
    return recovery_views.reset(request, token, STAFF_RECOVERY)
