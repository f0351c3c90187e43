"""Background work of rights requests: the daily deadline reminders, and access bundles' PDFs."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from steward.rights import services


@task()
def send_rights_reminders() -> int:
    """Idempotent within a day: a request already reminded about today is left out. Bundle PDFs
    past their week are deleted on the way (`pdf_jobs.expire`)."""
    from steward.rights import pdf_jobs

    pdf_jobs.expire(now=timezone.now())
    return services.reminders_send(today=timezone.localdate())


@task()
def build_bundle_pdf(pdf_id: int, school_id: int) -> str:
    """Lay out an access bundle's PDF (queued by a download; see `rights.pdf_jobs`)."""
    from steward.rights import pdf_jobs

    return pdf_jobs.build(pdf_id=pdf_id, school_id=school_id)
