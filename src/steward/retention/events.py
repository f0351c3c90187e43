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
