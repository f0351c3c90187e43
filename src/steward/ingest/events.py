"""Events ingest publishes, so that apps above it react to a batch without ingest naming them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from steward.core.events import Event


@dataclass(frozen=True)
class BatchApplied(Event):
    """A batch was merged into the school's MIS data, published inside the batch's transaction
    and tenant scope.

    `merged_at` is the transaction's `now()`, which the merge stamps on the rows it inserted, so a
    listener finds exactly this batch's new rows; `counts` is the batch's per-record-type summary
    (inserted, updated, deleted).
    """

    batch_id: uuid.UUID
    mode: str
    counts: dict[str, dict[str, int]]
    merged_at: dt.datetime
