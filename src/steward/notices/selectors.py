"""Read-side queries on published notice versions."""

from __future__ import annotations

from steward.notices.models import NoticeVersion
from steward.tenancy.scope import tenant_scope


def notice_versions(*, school_id: int, service: str) -> list[NoticeVersion]:
    """A school's published versions of one notice, newest first (public: opens that school's scope)."""
    with tenant_scope([school_id]):
        return list(NoticeVersion.objects.filter(service=service).order_by("-number"))


def notice_version(*, school_id: int, service: str, number: int) -> NoticeVersion | None:
    with tenant_scope([school_id]):
        return NoticeVersion.objects.filter(service=service, number=number).first()
