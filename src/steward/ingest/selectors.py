"""Reading ingest batches (the school's view of what its MIS sent)."""

from __future__ import annotations

from django.db.models import QuerySet

from steward.ingest.models import IngestBatch


def batches_for_school(*, limit: int = 50) -> QuerySet[IngestBatch]:
    """The current school's most recent batches (tenant-scoped)."""
    return IngestBatch.objects.order_by("-received_at")[:limit]


def batch_for_school(*, batch_id: str) -> IngestBatch | None:
    return IngestBatch.objects.filter(pk=batch_id).first()
