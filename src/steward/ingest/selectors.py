"""Reading ingest batches (the school's view of what its MIS sent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet

from steward.ingest.models import IngestBatch
from steward.tenancy.scope import estate_scope


def batches_for_school(*, limit: int = 50) -> QuerySet[IngestBatch]:
    """The current school's most recent batches (tenant-scoped)."""
    return IngestBatch.objects.order_by("-received_at")[:limit]


def batch_for_school(*, batch_id: str) -> IngestBatch | None:
    return IngestBatch.objects.filter(pk=batch_id).first()


def search_batches(*, text: str, limit: int = 20) -> list[IngestBatch]:
    """The scope's batches whose file name, sender, status or id matches `text` (one statement).
    A batch holds no personal data on its face (a file name, counts, errors by record and field)."""
    text = text.strip()
    if not text:
        return []
    query = Q(filename__icontains=text) | Q(sent_by__icontains=text) | Q(status__iexact=text)
    if len(text) >= 4 and all(c in "0123456789abcdefABCDEF-" for c in text):
        query |= Q(id__startswith=text.lower()) if len(text) < 36 else Q(id=text)
    return list(IngestBatch.objects.filter(query).order_by("-received_at")[:limit])


@dataclass(frozen=True)
class SchoolBatchProblems:
    """A school's rejected batches since a moment: for the processor's list of schools with problems."""

    school_id: int
    rejected: int
    last_rejected_at: dt.datetime


def rejected_batches_by_school(*, since: dt.datetime) -> list[SchoolBatchProblems]:
    """Every school's rejected batches since `since`, counted in one statement across the estate.
    The processor's own work (its home page), so it opens the estate scope; counts only, no data."""
    with estate_scope():
        rows = (
            IngestBatch.objects.filter(status=IngestBatch.Status.REJECTED, received_at__gte=since)
            .values("school_id")
            .annotate(rejected=Count("id"), last=Max("received_at"))
            .order_by("-last")
        )
        return [SchoolBatchProblems(r["school_id"], r["rejected"], r["last"]) for r in rows]


def rejected_batches_since(*, since: dt.datetime) -> list[IngestBatch]:
    """The scope's batches rejected since `since`, newest first (one statement): a school's alerts."""
    rejected = IngestBatch.objects.filter(status=IngestBatch.Status.REJECTED, received_at__gte=since)
    return list(rejected.order_by("-received_at")[:20])
