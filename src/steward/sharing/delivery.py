"""Scheduled exports and signed webhooks: push what an approved flow releases, from where it last got to.

Per record type (and the tombstones of the released types) a `FlowDelivery` remembers the change
version delivered up to; it moves only once everything after it was delivered, so a run after a
failure sends again from the old version (receivers key records by source id and change version).
A Disclosure is recorded for each page that actually left: a file that was moved into place, a POST
that was answered 2xx. Tombstones carry only the MIS's opaque ids and, as in the API, are not logged.

An export whose target asks for a format registered by a higher app (`core.flow_formats`, e.g.
rostering's `oneroster-csv`) is written by that app's writer instead, from the time it last
delivered up to: sharing cannot import the app that knows the standard, since that app imports it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from steward.core.csvsafe import safe_cell
from steward.core.flow_formats import FlowFile, FlowFileRefused, FlowFormat, flow_format
from steward.core.outbound import outbound_refusal
from steward.core.sealed import seal, unseal
from steward.sharing import selectors, services
from steward.sharing.models import DataFlow, DeliveryAttempt, DeliveryTarget, Disclosure, FlowDelivery
from steward.sharing.selectors import Page, Release
from steward.tenancy.scope import estate_scope, tenant_scope

PAGE_SIZE = 5000
WEBHOOK_TIMEOUT_SECONDS = 30.0
DELETES = "deletes"
PUSHED = (DataFlow.Delivery.EXPORT, DataFlow.Delivery.WEBHOOK)


class DeliveryFailed(Exception):
    """The target refused or could not be reached; the run is recorded as failed."""


@dataclass(frozen=True)
class _Batch:
    """One record type's part of a run: how to read it and where it stands."""

    record_type: str
    release: Release | None  # None for tombstones
    watermark: FlowDelivery


def delivery_target_set(
    *,
    flow: DataFlow,
    export_folder: str = "",
    export_format: str = DeliveryTarget.Format.CSV,
    webhook_url: str = "",
    webhook_secret: str = "",
) -> DeliveryTarget:
    """Record where a flow is delivered; the flow's delivery method decides which settings are needed."""
    if flow.delivery == DataFlow.Delivery.EXPORT and not export_folder:
        raise ValidationError({"export_folder": "an export needs a drop folder"})
    if flow.delivery == DataFlow.Delivery.WEBHOOK and not (webhook_url and webhook_secret):
        raise ValidationError({"webhook_url": "a webhook needs a URL and a signing secret"})
    if webhook_url and (refusal := outbound_refusal(webhook_url)):
        raise ValidationError({"webhook_url": refusal})
    if export_format not in DeliveryTarget.Format.values:
        raise ValidationError({"export_format": f"{export_format!r} is not a file format Steward writes"})
    registered = flow_format(export_format)
    if export_format not in (DeliveryTarget.Format.CSV, DeliveryTarget.Format.JSON) and (
        registered is None or registered.service != flow.activity.service
    ):
        service = registered.service if registered else "no"
        refusal = f"the {export_format} format is written for {service} flows only, and this flow is not one"
        raise ValidationError({"export_format": refusal})
    target: DeliveryTarget
    target, _ = DeliveryTarget.objects.update_or_create(
        school_id=flow.school_id,
        flow=flow,
        defaults={
            "export_folder": export_folder,
            "export_format": export_format,
            "webhook_url": webhook_url,
            "webhook_secret": seal(webhook_secret),
        },
    )
    return target


def due_flow_ids(*, frequency: str) -> list[int]:
    """Approved export and webhook flows of this frequency, in every school."""
    with estate_scope():
        return list(
            DataFlow.objects.filter(status=DataFlow.Status.APPROVED, frequency=frequency, delivery__in=PUSHED)
            .order_by("id")
            .values_list("id", flat=True)
        )


def deliver_flow(*, flow_id: int) -> DeliveryAttempt | None:
    """Deliver everything the flow releases that changed since the last delivery; None if it delivers nothing."""
    school_id = _school_of(flow_id)
    if school_id is None:
        return None
    with tenant_scope([school_id]):
        flow = DataFlow.objects.select_related("school").filter(pk=flow_id).first()
        if flow is None or flow.status != DataFlow.Status.APPROVED or flow.delivery not in PUSHED:
            return None
        target = DeliveryTarget.objects.filter(flow=flow).first()
        attempt = DeliveryAttempt(
            school_id=school_id,
            flow=flow,
            attempt=_attempt_number(flow),
            target=_target_label(flow, target),
        )
        try:
            if target is None:
                raise DeliveryFailed("no delivery target is set for this flow")
            registered = flow_format(target.export_format) if flow.delivery == DataFlow.Delivery.EXPORT else None
            if registered is not None:
                attempt.record_count += _deliver_formatted(flow, target, registered)
            else:
                for batch in _batches(flow):
                    attempt.record_count += _deliver(flow, target, batch)
            attempt.status = DeliveryAttempt.Status.SUCCEEDED
        except (DeliveryFailed, FlowFileRefused, OSError, httpx.HTTPError) as error:
            attempt.status = DeliveryAttempt.Status.FAILED
            attempt.detail = f"{type(error).__name__}: {error}"
        attempt.finished_at = timezone.now()
        attempt.save()
        return attempt


def _deliver_formatted(flow: DataFlow, target: DeliveryTarget, registered: FlowFormat) -> int:
    """Let the app that registered the target's format write the flow (`core.flow_formats`): from
    the time last delivered, or everything the first time. Its disclosures roll back with the
    savepoint if it fails; the time moves only once its file is in place."""
    watermark = _watermark(flow, registered.code)
    with transaction.atomic():
        written = registered.write(
            FlowFile(
                school_id=flow.school_id,
                flow_id=flow.id,
                folder=Path(target.export_folder),
                since=watermark.delivered_to_time,
            )
        )
        if written.watermark is not None:
            watermark.delivered_to_time = written.watermark
            watermark.save(update_fields=["delivered_to_time"])
    return written.records


def _school_of(flow_id: int) -> int | None:
    with estate_scope():
        school_id: int | None = DataFlow.objects.filter(pk=flow_id).values_list("school_id", flat=True).first()
    return school_id


def _attempt_number(flow: DataFlow) -> int:
    last_success = (
        DeliveryAttempt.objects.filter(flow=flow, status=DeliveryAttempt.Status.SUCCEEDED)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    failed = DeliveryAttempt.objects.filter(flow=flow, status=DeliveryAttempt.Status.FAILED)
    if last_success is not None:
        failed = failed.filter(started_at__gt=last_success)
    return failed.count() + 1


def _target_label(flow: DataFlow, target: DeliveryTarget | None) -> str:
    if target is None:
        return ""
    return target.export_folder if flow.delivery == DataFlow.Delivery.EXPORT else target.webhook_url


def _batches(flow: DataFlow) -> list[_Batch]:
    types = sorted(selectors.released_record_types([flow]))
    releases = [(t, selectors.release_for([flow], t)) for t in types]
    batches = [_Batch(t, release, _watermark(flow, t)) for t, release in releases if release is not None]
    if batches:
        batches.append(_Batch(DELETES, None, _watermark(flow, DELETES)))
    return batches


def _watermark(flow: DataFlow, record_type: str) -> FlowDelivery:
    watermark: FlowDelivery
    watermark, _ = FlowDelivery.objects.get_or_create(school_id=flow.school_id, flow=flow, record_type=record_type)
    return watermark


def _pages(flow: DataFlow, batch: _Batch) -> Iterator[tuple[int, Page]]:
    """(since, page) for every page after the watermark, in change-version order."""
    since = batch.watermark.delivered_to_version
    types = selectors.released_record_types([flow])
    while True:
        if batch.release is None:
            page = selectors.deletes_page(school_id=flow.school_id, record_types=types, since=since, limit=PAGE_SIZE)
        else:
            page = selectors.records_page(school_id=flow.school_id, release=batch.release, since=since, limit=PAGE_SIZE)
        if not page.rows:
            return
        yield since, page
        if not page.more:
            return
        since = page.next_since


def _deliver(flow: DataFlow, target: DeliveryTarget, batch: _Batch) -> int:
    if flow.delivery == DataFlow.Delivery.EXPORT:
        count, version_to = _export(flow, target, batch)
    else:
        count, version_to = _post(flow, target, batch)
    if count:
        batch.watermark.delivered_to_version = version_to
        batch.watermark.save(update_fields=["delivered_to_version"])
    return count


def _disclose(flow: DataFlow, batch: _Batch, since: int, page: Page, channel: str) -> None:
    if batch.release is not None:
        record_ids, subject_ids = selectors.page_ids(batch.record_type, page)
        services.record_disclosure(
            school_id=flow.school_id,
            recipient_id=flow.recipient_id,
            release=batch.release,
            since=since,
            next_since=page.next_since,
            record_ids=record_ids,
            subject_ids=subject_ids,
            channel=channel,
        )


def _export(flow: DataFlow, target: DeliveryTarget, batch: _Batch) -> tuple[int, int]:
    """Write one file per type through a temporary file; its disclosures roll back if it never lands."""
    folder = Path(target.export_folder)
    count, version_to = 0, batch.watermark.delivered_to_version
    # The savepoint undoes this type's disclosures when writing or moving the file fails.
    with transaction.atomic(), tempfile.NamedTemporaryFile("w", dir=folder, delete=False, newline="") as handle:
        temporary = Path(handle.name)
        try:
            writer = _writer(target.export_format, handle, flow, batch)
            for since, page in _pages(flow, batch):
                writer.write(page)
                _disclose(flow, batch, since, page, Disclosure.Channel.EXPORT)
                count, version_to = count + len(page.rows), page.next_since
            writer.close(version_to)
            handle.close()
            if count:
                os.chmod(temporary, 0o640)  # the recipient's collector may read through its group, never others
                name = f"{flow.school.urn}-{batch.record_type}-{version_to}.{target.export_format}"
                os.replace(temporary, folder / name)
        finally:
            temporary.unlink(missing_ok=True)
    return count, version_to


class _CsvWriter:
    def __init__(self, handle: IO[str], fields: list[str]) -> None:
        # RFC 4180's CRLF: with "\n" alone the csv module left a value holding "\r" unquoted, which split the row.
        self._writer = csv.DictWriter(handle, fields)
        self._writer.writeheader()

    def write(self, page: Page) -> None:
        self._writer.writerows({k: _cell(v) for k, v in row.items()} for row in page.rows)

    def close(self, version_to: int) -> None:
        pass


class _JsonWriter:
    """The webhook body's shape, streamed: {"school_urn", "record_type", "records": [...], "next_since"}."""

    def __init__(self, handle: IO[str], urn: int | None, record_type: str) -> None:
        self._handle = handle
        self._first = True
        head = json.dumps({"school_urn": urn, "record_type": record_type})[:-1]
        handle.write(f'{head}, "records": [')

    def write(self, page: Page) -> None:
        for row in page.rows:
            self._handle.write(("" if self._first else ", ") + json.dumps(row, cls=DjangoJSONEncoder))
            self._first = False

    def close(self, version_to: int) -> None:
        self._handle.write(f'], "next_since": {version_to}}}\n')


def _writer(file_format: str, handle: IO[str], flow: DataFlow, batch: _Batch) -> _CsvWriter | _JsonWriter:
    if file_format == DeliveryTarget.Format.JSON:
        return _JsonWriter(handle, flow.school.urn, batch.record_type)
    if batch.release is None:
        fields = ["change_version", "record_type", "source_id", "deleted_at"]
    else:
        fields = ["change_version", "source_id", *batch.release.fields]
    return _CsvWriter(handle, fields)


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run is made inert (`core.csvsafe`): export folders
    are opened in Excel by people. JSON exports and webhooks carry the values exactly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return safe_cell("|".join(str(v) for v in value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return safe_cell(value) if isinstance(value, str) else str(value)


def _post(flow: DataFlow, target: DeliveryTarget, batch: _Batch) -> tuple[int, int]:
    count, version_to = 0, batch.watermark.delivered_to_version
    if refusal := outbound_refusal(target.webhook_url):
        raise DeliveryFailed(f"not sent to {target.webhook_url}: {refusal}")
    with httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False) as client:
        for since, page in _pages(flow, batch):
            body = json.dumps(
                {
                    "school_urn": flow.school.urn,
                    "record_type": batch.record_type,
                    "records": page.rows,
                    "next_since": page.next_since,
                },
                cls=DjangoJSONEncoder,
            ).encode()
            response = client.post(
                target.webhook_url, content=body, headers=signed_headers(body, unseal(target.webhook_secret))
            )
            if not response.is_success:
                raise DeliveryFailed(f"{target.webhook_url} answered {response.status_code} for {batch.record_type}")
            _disclose(flow, batch, since, page, Disclosure.Channel.WEBHOOK)
            count, version_to = count + len(page.rows), page.next_since
    return count, version_to


def signed_headers(body: bytes, secret: str) -> dict[str, str]:
    """HMAC-SHA256 over `<timestamp>.<raw body>` with the shared secret.

    The timestamp is inside the signature, so a receiver that rejects old timestamps (say, over
    five minutes) cannot be fed a replayed delivery.
    """
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Steward-Signature": f"sha256={signature}",
        "X-Steward-Timestamp": timestamp,
    }
