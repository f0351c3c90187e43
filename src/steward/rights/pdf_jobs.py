"""The access bundle's PDF, made in the background.

WeasyPrint takes about a second for the heaviest learner (a school year of attendance), which
would double the time to the bundle. So a download writes the JSON and HTML at once, records the
PDF's HTML beside them (`AccessBundlePdf`, pending) and queues its layout after commit; the
request's page shows it being prepared, then offers it, or says in words why it failed.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from steward.rights.bundle_pdf import pdf_source
from steward.rights.models import AccessBundlePdf, RightsRequest
from steward.rights.readable import Table
from steward.tenancy.scope import estate_scope, tenant_scope

FAILED_ADVICE = "Download a copy again to try again. If it fails again, the JSON and HTML in the zip are complete."
STALLED_ADVICE = (
    "This is taking longer than it should: the background worker may be stopped. Download a copy again, "
    "and if the PDF still does not come, tell the ICT service. The HTML prints the same information."
)
# A pending PDF older than this has stalled (it takes seconds); a made one is deleted after `KEPT`:
# it is a copy of the subject's data, and the bundle can be downloaded again at any time.
STALLED_AFTER = dt.timedelta(minutes=10)
KEPT = dt.timedelta(days=7)


def prepare(request: RightsRequest, document: dict[str, Any], found: list[Table] | None = None) -> AccessBundlePdf:
    """Record the PDF of `document` as pending (replacing the request's older one) and queue it."""
    from steward.rights.tasks import build_bundle_pdf  # the task module imports the services

    AccessBundlePdf.objects.filter(request=request).delete()
    job: AccessBundlePdf = AccessBundlePdf.objects.create(
        school_id=request.school_id, request=request, source=pdf_source(document, found)
    )
    transaction.on_commit(partial(build_bundle_pdf.enqueue, job.pk, request.school_id))
    return job


def build(*, pdf_id: int, school_id: int) -> str:
    """Lay out one pending PDF; a failure is recorded in words, never raised to the worker."""
    from steward.core.pdf import html_to_pdf

    with tenant_scope([school_id]):
        job = AccessBundlePdf.objects.filter(pk=pdf_id, status=AccessBundlePdf.Status.PENDING).first()
        if job is None:
            return "gone"  # replaced by a newer download, or already made
        try:
            job.pdf, job.status = html_to_pdf(job.source), AccessBundlePdf.Status.READY
        except Exception as exc:  # noqa: BLE001 - any failure is shown to the person, with what to do
            job.status, job.error = AccessBundlePdf.Status.FAILED, f"The PDF could not be made ({type(exc).__name__})."
        job.finished_at = timezone.now()
        # Saved only if no newer download has replaced it meanwhile.
        AccessBundlePdf.objects.filter(pk=job.pk).update(
            pdf=job.pdf, status=job.status, error=job.error, finished_at=job.finished_at
        )
        return str(job.status)


def expire(*, now: dt.datetime) -> int:
    """Delete every school's bundle PDFs older than `KEPT` (run daily with the rights reminders)."""
    with estate_scope():
        deleted, _ = AccessBundlePdf.objects.filter(created_at__lt=now - KEPT).delete()
    return deleted


def stalled(job: AccessBundlePdf, *, now: dt.datetime) -> bool:
    return job.status == AccessBundlePdf.Status.PENDING and job.created_at < now - STALLED_AFTER


def latest(request: RightsRequest) -> AccessBundlePdf | None:
    """The request's newest PDF, without its bytes (a page only needs to know where it is)."""
    found: AccessBundlePdf | None = (
        AccessBundlePdf.objects.filter(request=request).defer("source", "pdf").order_by("-created_at", "-id").first()
    )
    return found
