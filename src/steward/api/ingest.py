"""`/api/v1/ingest/batches`: an MIS agent sends its school's data; answers with counts or errors."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from steward.api.auth import mis_agent
from steward.api.problems import PROBLEM_TYPE, Problem, problem_status
from steward.ingest.models import IngestBatch
from steward.ingest.records import BatchRejected
from steward.ingest.services import BatchRejectedWithBatch, batch_ingest
from steward.tenancy.http import ApiRequest
from steward.tenancy.scope import tenant_scope

router = Router(tags=["ingest"], auth=mis_agent)


class RecordErrorOut(Schema):
    record_type: str
    ref: str
    source_id: str | None = None
    field: str
    reason: str


class TypeCounts(Schema):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


class BatchOut(Schema):
    id: uuid.UUID
    status: str
    format: str
    mode: str
    filename: str
    size_bytes: int
    received_at: dt.datetime
    finished_at: dt.datetime | None
    duplicate: bool = False
    counts: dict[str, TypeCounts]
    errors: list[RecordErrorOut]


class BatchProblem(Problem):
    """A refused batch: every error, and the kept batch to read them from later."""

    batch_id: uuid.UUID | None = None
    errors: list[RecordErrorOut] = []


def _out(batch: IngestBatch, *, duplicate: bool = False) -> BatchOut:
    return BatchOut(
        id=batch.id,
        status=batch.status,
        format=batch.format,
        mode=batch.mode,
        filename=batch.filename,
        size_bytes=batch.size_bytes,
        received_at=batch.received_at,
        finished_at=batch.finished_at,
        duplicate=duplicate,
        counts=batch.counts,
        errors=batch.errors,
    )


@router.post(
    "/batches",
    response={200: BatchOut, 201: BatchOut, 400: BatchProblem, 403: BatchProblem, 413: BatchProblem, 422: BatchProblem},
    summary="Send a batch of the school's MIS data",
    operation_id="steward_ingest_api_send_batch",
    description=(
        "Multipart upload: `file`, `format` (ctf, csv-zip, json, ndjson) and `mode` (full: what a record type's "
        "file omits is deleted; delta: changes plus listed deletions). One transaction: applied whole or not at "
        "all. 201 when applied, 200 when this exact file was already applied (nothing is done twice), 422 with "
        "every error (record, field, reason) when rejected; the rejected batch is kept for the school to read."
    ),
)
def send_batch(
    request: ApiRequest,
    file: File[UploadedFile],
    format: Form[Literal["ctf", "csv-zip", "json", "ndjson"]],
    mode: Form[Literal["full", "delta"]] = "delta",
) -> Status[Any]:
    client = request.auth
    assert client.school is not None
    assert file.file is not None
    try:
        result = batch_ingest(
            school=client.school,
            stream=file.file,
            format=format,
            mode=mode,
            sent_by=client.application.client_id,
            filename=file.name or "",
            size_bytes=file.size,
        )
    except BatchRejected as rejected:
        batch_id = rejected.batch.id if isinstance(rejected, BatchRejectedWithBatch) else None
        return Status(
            rejected.status,
            BatchProblem(
                type=f"{PROBLEM_TYPE}batch-rejected-{rejected.status}",
                title="The batch was not applied; nothing was changed",
                status=rejected.status,
                detail=str(rejected),
                instance=request.path,
                batch_id=batch_id,
                errors=[RecordErrorOut(**e.as_dict()) for e in rejected.errors],  # type: ignore[arg-type]
            ),
        )
    return Status(200 if result.duplicate else 201, _out(result.batch, duplicate=result.duplicate))


@router.get(
    "/batches/{batch_id}",
    response={200: BatchOut, 404: Problem},
    summary="Read a batch back",
    operation_id="steward_ingest_api_read_batch",
)
def read_batch(request: ApiRequest, batch_id: uuid.UUID) -> Status[Any]:
    client = request.auth
    assert client.school_id is not None
    with tenant_scope([client.school_id]):
        batch = IngestBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return problem_status(request, 404, "No such batch for this school")
    return Status(200, _out(batch))
