"""Events retention publishes, so that apps above it act before a school's data goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from steward.core.events import Event


@dataclass(frozen=True)
class SchoolPurging(Event):
    """A school's contract has ended and every row of the school is about to be deleted, inside
    the purge's transaction and tenant scope: a subscriber keeps what must outlive the school
    (rights keeps its erasure proofs' counts as retention proofs) and fails the purge if it cannot."""

    at: dt.datetime


@dataclass(frozen=True)
class TerminationStarted(Event):
    """A school's contract has ended and its export is waiting: published inside the termination's
    transaction. The school's data and portal stay until the purge, so the privacy notices (a face
    above retention) record a version that says the service is ending and when the data goes."""

    termination_id: int
    purge_not_before: dt.datetime


@dataclass(frozen=True)
class SubjectErasureReplayed(Event):
    """After a backup restore, an erasure made since the backup was taken is applied again: published
    once per erased person by `services.replay_after_restore`, after the providers erased them again.
    A subscriber erases them from what no provider reaches by row (the service desk's investigation
    copies, which the restore brought back as they were before the erasure)."""

    record_type: str
    source_id: str
