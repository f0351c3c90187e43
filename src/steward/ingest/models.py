"""A batch a school's MIS sent: kept with its result, or with its errors for the school to read."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from steward.register.classification import NoPersonalData
from steward.tenancy.models import TenantModel


class IngestBatch(TenantModel):
    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    class Mode(models.TextChoices):
        FULL = "full", "Full (what is missing is deleted)"
        DELTA = "delta", "Delta (changes and listed deletions)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    format = models.CharField(max_length=10)
    mode = models.CharField(max_length=5, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    file_sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField()
    sent_by = models.CharField(max_length=100, help_text="API client id, or 'cli:<user>'")
    received_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)

    privacy = NoPersonalData(
        "counts and error locations; an error quotes a record's source id and the field, never its value "
        "except for code values"
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["school", "received_at"], name="ingest_batch_school_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "file_sha256"], condition=models.Q(status="applied"), name="ingest_batch_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.format} {self.mode} batch {self.id} ({self.status})"
