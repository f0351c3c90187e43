"""What every record sent by a school's MIS has in common.

`source_id` is the MIS's own id (unique per school and type); references between records use
source ids too (`learner_source_id`), checked at ingest, so a batch can be merged set-based
without resolving keys row by row. `change_version` comes from one global sequence and is
bumped only when `content_hash` changes; deleted records leave a `Tombstone`.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from steward.tenancy.models import Organisation, TenantModel

CHANGE_VERSION_SEQUENCE = "mis_change_version"


class NextChangeVersion(models.Func):
    """`nextval` of the one global change-version sequence (created by mis' first migration)."""

    template = "nextval('mis_change_version')"
    output_field = models.BigIntegerField()

    def __init__(self) -> None:
        super().__init__()


def school_without_constraint() -> models.ForeignKey[Organisation, Organisation]:
    """The school of a bulk MIS row, with no foreign-key constraint in the database.

    PostgreSQL checks a foreign key row by row, at commit: for a batch of a million rows that all
    name the same school that was half the cost of the load (`bench/ingest_profile.py`). The school
    is checked once a batch instead (the batch's own row refers to it, with a constraint, in the
    same transaction), row-level security lets a row name only a school of the writer's scope, and
    a trigger (migration mis 0007) refuses to delete a school that still holds MIS rows. The ORM's
    PROTECT is unchanged.
    """
    return models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )


class MisRecord(TenantModel):
    school = school_without_constraint()
    source_id = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=32)
    change_version = models.BigIntegerField(db_default=NextChangeVersion())
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # The record type's name in the API and in batch files (e.g. "learners").
    record_type: ClassVar[str] = ""
    # Columns whose values must come from a shipped code set: {field: code set}.
    code_sets: ClassVar[dict[str, str]] = {}
    # Columns that refer to another record by source id: {field: record type}.
    references: ClassVar[dict[str, str]] = {}
    # Columns with a format the DfE's Common Basic Data Set defines, checked at ingest: {field: format}
    # (formats: upn, postcode, ni_number, teacher_number; see ingest/validation.py).
    formats: ClassVar[dict[str, str]] = {}
    # Dates that are only plausible near today: {field: (years before, years after)}; a date of
    # birth in the future, or a pupil's a century ago, is a typing error, not data.
    date_windows: ClassVar[dict[str, tuple[int, int]]] = {}
    # Short text typed by school staff that may name a pupil (a homework title): copies treat it as
    # free text, like a TextField.
    free_text: ClassVar[frozenset[str]] = frozenset()

    SYSTEM_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"id", "school", "source_id", "content_hash", "change_version", "created_at", "updated_at"}
    )

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["school", "source_id"], name="%(app_label)s_%(class)s_source"),
        ]
        indexes = [models.Index(fields=["school", "change_version"], name="%(app_label)s_%(class)s_ver")]
