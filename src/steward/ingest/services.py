"""Ingest a batch: read it, stage it with COPY, check it set-based, merge it — in one transaction.

A batch is all or nothing. If any record is wrong, nothing changes and the batch is kept,
rejected, with every error (record, field, reason) for the school to read. A batch already
applied (same school, same file hash) is not applied twice: re-sending returns the first result,
also when the copies arrive at the same moment (the second asks again under the school's lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg import sql

from steward.audit.services import audit_record
from steward.core.events import publish
from steward.ingest import merge, staging
from steward.ingest.events import BatchApplied
from steward.ingest.formats import read_csv_zip, read_json, read_ndjson
from steward.ingest.models import IngestBatch
from steward.ingest.records import BatchContent, BatchRejected, RecordError
from steward.ingest.schema import record_types, spec_for
from steward.ingest.validation import validate
from steward.mis.versions import lock_school_versions
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope


@dataclass(frozen=True)
class IngestResult:
    batch: IngestBatch
    duplicate: bool = False


def file_sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def batch_ingest(
    *,
    school: Organisation,
    stream: IO[bytes],
    format: str,
    mode: str,
    sent_by: str,
    filename: str = "",
    size_bytes: int | None = None,
) -> IngestResult:
    """Apply one batch for one school, or record why it cannot be applied."""
    if mode not in IngestBatch.Mode.values:
        raise BatchRejected([RecordError("file", "request", "mode", f"{mode!r} is not one of full, delta")], status=400)
    size = size_bytes if size_bytes is not None else _size(stream)
    if size > settings.INGEST_MAX_UPLOAD_BYTES:
        raise BatchRejected(
            [
                RecordError(
                    "file", "request", "file", f"is {size} bytes; the limit is {settings.INGEST_MAX_UPLOAD_BYTES}"
                )
            ],
            status=413,
        )
    digest = file_sha256(stream)
    with tenant_scope([school.id]):
        earlier = _applied_earlier(digest)
    if earlier is not None:
        return IngestResult(earlier, duplicate=True)
    batch = IngestBatch(
        school=school,
        format=format,
        mode=mode,
        file_sha256=digest,
        filename=filename[:255],
        size_bytes=size,
        sent_by=sent_by,
    )
    try:
        with tenant_scope([school.id]):
            # One writer of the school's versioned rows at a time, to its commit (a second batch, an
            # erasure, the sweep wait), so the school's change versions commit in order and no
            # reader skips one.
            lock_school_versions(school_id=school.id)
            # Asked again under the lock: a copy of this file sent at the same moment (an agent's
            # retry) may have been applied while this one waited, and must not be applied twice.
            earlier = _applied_earlier(digest)
            if earlier is not None:
                return IngestResult(earlier, duplicate=True)
            content = read_batch(stream, format)
            _check_source_school(content, school)
            batch.counts = _apply(content, school_id=school.id, full=mode == IngestBatch.Mode.FULL)
            batch.status = IngestBatch.Status.APPLIED
            batch.finished_at = timezone.now()
            batch.save(force_insert=True)
            _audit(batch)
            _publish_applied(batch)
    except BatchRejected as rejected:
        batch.status = IngestBatch.Status.REJECTED
        batch.errors = [e.as_dict() for e in rejected.errors]
        batch.finished_at = timezone.now()
        with tenant_scope([school.id]):
            batch.save(force_insert=True)
            _audit(batch)
        raise BatchRejectedWithBatch(batch, rejected) from None
    return IngestResult(batch)


class BatchRejectedWithBatch(BatchRejected):
    """A rejection that has been recorded: carries the kept batch for the caller to point at."""

    def __init__(self, batch: IngestBatch, cause: BatchRejected) -> None:
        super().__init__(cause.errors, status=cause.status)
        self.batch = batch


def _applied_earlier(digest: str) -> IngestBatch | None:
    return IngestBatch.objects.filter(file_sha256=digest, status=IngestBatch.Status.APPLIED).first()


def read_batch(stream: IO[bytes], format: str) -> BatchContent:
    if format == "csv-zip":
        return read_csv_zip(stream, max_uncompressed=settings.INGEST_MAX_UNCOMPRESSED_BYTES)
    if format == "json":
        return read_json(stream)
    if format == "ndjson":
        return read_ndjson(stream)
    if format == "ctf":
        from steward.ingest.ctf import parse_ctf

        return parse_ctf(stream.read(), max_bytes=settings.INGEST_MAX_UPLOAD_BYTES)
    raise BatchRejected(
        [RecordError("file", "request", "format", f"{format!r} is not one of ctf, csv-zip, json, ndjson")], status=400
    )


def _apply(content: BatchContent, *, school_id: int, full: bool) -> dict[str, dict[str, int]]:
    """Stage, check and merge every record type of the batch (inside the caller's transaction)."""
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor, for COPY
        # Every statement below is a bulk join over rows this transaction just wrote, which the
        # planner's statistics cannot know yet; a nested loop chosen on a stale estimate of "one
        # row" costs hours. Hash joins are right for all of them.
        cursor.execute("SET LOCAL enable_nestloop = off")
        staged = {}
        for record_type in content.record_types():
            spec = spec_for(record_type)
            if record_type in content.csv_streams:
                staged[record_type] = staging.stage_csv(
                    cursor, spec, content.csv_streams[record_type], max_bytes=settings.INGEST_MAX_UNCOMPRESSED_BYTES
                )
            else:
                staged[record_type] = staging.stage_rows(cursor, spec, content.rows[record_type])
        deletes_table = _stage_deletes(cursor, content.deletes)
        changed = {t: merge.find_changed(cursor, table, school_id=school_id) for t, table in staged.items()}
        errors = validate(
            cursor,
            staged,
            {t: name for t, (name, _, _) in changed.items()},
            school_id=school_id,
            full=full,
            deletes_table=deletes_table,
            unchanged=frozenset(t for t, (_, rows, _) in changed.items() if rows == 0),
            today=timezone.localdate(),
        )
        if errors:
            raise BatchRejected(errors)
        counts: dict[str, dict[str, int]] = {}
        deleted_types: set[str] = set()
        for record_type in record_types():
            table = staged.get(record_type)
            deleted = 0
            if table is not None:
                changed_table, changed_rows, first_load = changed[record_type]
                inserted, updated, unchanged = merge.merge_table(
                    cursor, table, changed_table, changed_rows, school_id=school_id, first_load=first_load
                )
                if full and not first_load:
                    deleted += merge.tombstone_missing(cursor, table, school_id=school_id)
                counts[record_type] = {"inserted": inserted, "updated": updated, "unchanged": unchanged}
            if deletes_table and record_type in content.deletes:
                deleted += merge.delete_listed(cursor, spec_for(record_type), deletes_table, school_id=school_id)
            if table is not None or deleted:
                counts.setdefault(record_type, {"inserted": 0, "updated": 0, "unchanged": 0})["deleted"] = deleted
            if deleted:
                deleted_types.add(record_type)
        for record_type, count in merge.cascade_dangling(cursor, deleted_types, school_id=school_id).items():
            entry = counts.setdefault(record_type, {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0})
            entry["deleted"] = entry.get("deleted", 0) + count
        return counts


def _stage_deletes(cursor: Any, deletes: dict[str, list[str]]) -> str | None:
    if not deletes:
        return None
    cursor.execute("DROP TABLE IF EXISTS pg_temp.stage_deletes")
    cursor.execute("CREATE TEMP TABLE stage_deletes (record_type text, source_id text) ON COMMIT DROP")
    with cursor.copy(sql.SQL("COPY stage_deletes (record_type, source_id) FROM STDIN")) as copy:
        for record_type, ids in deletes.items():
            for source_id in ids:
                copy.write_row([record_type, source_id])
    return "stage_deletes"


def _check_source_school(content: BatchContent, school: Organisation) -> None:
    """A file that says it comes from another school is refused (a misconfigured agent)."""
    source = content.source_school
    if source is None:
        return
    mismatches = []
    if source.urn is not None and source.urn != school.urn:
        mismatches.append(f"URN {source.urn}")
    if (
        source.la_code
        and source.establishment_number
        and (f"{source.la_code}/{source.establishment_number}" != school.dfe_number)
    ):
        mismatches.append(f"DfE number {source.la_code}/{source.establishment_number}")
    if mismatches:
        raise BatchRejected(
            [
                RecordError(
                    "file",
                    "header",
                    "school",
                    f"the file is from {' and '.join(mismatches)}, but this client sends for {school.name} "
                    f"(URN {school.urn}, DfE number {school.dfe_number})",
                )
            ],
            status=403,
        )


def _publish_applied(batch: IngestBatch) -> None:
    """Tell the apps above ingest that the batch is merged (parents' notifications after commit,
    rectifications completed inside this transaction; see DESIGN.md's event table).

    The merge stamps inserted rows with the transaction's `now()`, which the event carries.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (merged_at,) = cursor.fetchone()  # type: ignore[misc]
    publish(
        BatchApplied(
            school_id=batch.school_id, batch_id=batch.id, mode=batch.mode, counts=batch.counts, merged_at=merged_at
        )
    )


def _audit(batch: IngestBatch) -> None:
    client = batch.sent_by if not batch.sent_by.startswith("cli:") else ""
    audit_record(
        action=f"ingest_{batch.status}",
        actor_client=client,
        actor_label=batch.sent_by,
        organisation_id=batch.school_id,
        school_id=batch.school_id,
        object_type="ingest.IngestBatch",
        object_ids=[batch.id],
        purpose="hosting the school's MIS data",
        detail={"format": batch.format, "mode": batch.mode, "counts": batch.counts, "errors": len(batch.errors)},
    )


def _size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size
