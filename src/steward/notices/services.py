"""Commands on the published notices: recording a new version of a school's notices.

A notice is rebuilt from the register and live configuration whenever it is read, so it can
change without anyone editing it. `notice_publish` freezes what was shown: a new `NoticeVersion`
whenever the plain-text rendering differs from the latest one (a hash compare, cheap enough for
every public render). `notice_refresh(school=...)` runs on the events that change a notice (a flow
approved, suspended or revoked; a data protection contact changed; the register catalogue synced),
so a version is recorded when the change happens, not only when someone next looks. The apps that
publish those events sit below this one and never call it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import connection
from django.utils import timezone

from steward.core.events import FlowChanged
from steward.core.pdf import html_to_pdf
from steward.notices.models import NoticeVersion
from steward.notices.notices import Notice, notice_for, notice_text, services_in_force
from steward.register.events import CatalogueSynced
from steward.retention.events import TerminationStarted
from steward.tenancy.events import DataProtectionContactChanged
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope


def notice_publish(*, notice: Notice) -> NoticeVersion:
    """The version whose content is this notice's, recorded first if the content changed."""
    return _publish(notice)[0]


def _publish(notice: Notice) -> tuple[NoticeVersion, bool]:
    content = notice_text(notice)
    digest = hashlib.sha256(content.encode()).hexdigest()
    service = notice.activity.service
    with tenant_scope([notice.school.id]):
        latest = _latest(service)
        if latest is not None and latest.content_hash == digest:
            return latest, False
        # Two renders of a changed notice at once must not both take the next number.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"notice-version:{notice.school.id}"]
            )
        latest = _latest(service)
        if latest is not None and latest.content_hash == digest:
            return latest, False
        version: NoticeVersion = NoticeVersion.objects.create(
            school=notice.school,
            service=service,
            number=latest.number + 1 if latest else 1,
            published_at=timezone.now(),
            content_hash=digest,
            content=content,
        )
        return version, True


def _latest(service: str) -> NoticeVersion | None:
    return NoticeVersion.objects.filter(service=service).defer("pdf").order_by("-number").first()


def notice_version_pdf(*, version: NoticeVersion, html: Callable[[], str]) -> bytes:
    """The version's PDF: the stored one, else rendered from `html()` (the print page of the notice
    whose content is this version's) and stored, so WeasyPrint runs once per version, not per request.
    Two first requests at once may both render; the first to store wins and both answer the same."""
    with tenant_scope([version.school_id]):
        stored = NoticeVersion.objects.filter(pk=version.pk).values_list("pdf", flat=True).first()
        if stored is not None:
            return bytes(stored)
    rendered = html_to_pdf(html())
    with tenant_scope([version.school_id]):
        NoticeVersion.objects.filter(pk=version.pk, pdf__isnull=True).update(pdf=rendered)
        stored = NoticeVersion.objects.filter(pk=version.pk).values_list("pdf", flat=True).first()
    return bytes(stored) if stored is not None else rendered


def notice_refresh(*, school: Organisation) -> list[NoticeVersion]:
    """Record a new version of each of the school's notices whose content changed; returns them."""
    created = []
    for activity in services_in_force(school):
        notice = notice_for(school=school, service=activity.service)
        if notice is None:
            continue
        version, new = _publish(notice)
        if new:
            created.append(version)
    return created


def on_flow_changed(event: FlowChanged) -> None:
    """Subscribed inside the flow change's transaction: the notice names the recipients of the
    school's flows, so its new version is recorded with the change (or not at all)."""
    notice_refresh(school=Organisation.objects.get(pk=event.school_id))


def on_contact_changed(event: DataProtectionContactChanged) -> None:
    """Subscribed inside the contact change's transaction: the notice prints the school's data
    protection contacts, so its new version is recorded with the change (or not at all)."""
    notice_refresh(school=Organisation.objects.get(pk=event.school_id))


def on_termination_started(event: TerminationStarted) -> None:
    """Subscribed inside the termination's transaction: the notices now say the contract has ended
    and when the data goes, so that version is recorded with the termination (or neither is)."""
    notice_refresh(school=Organisation.objects.get(pk=event.school_id))


def on_catalogue_synced(event: CatalogueSynced) -> None:
    """Subscribed inside the sync's transaction: the catalogue feeds every school's notices, so each
    school whose notice it changed gets a new version, dated with the change."""
    for school in Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("id"):
        notice_refresh(school=school)
