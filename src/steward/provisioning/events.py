"""What provisioning does when something happens below it: a batch changed people, or the school
erased or restricted a person (those arrive through the privacy provider, see privacy.py)."""

from __future__ import annotations

from steward.ingest.events import BatchApplied
from steward.provisioning.models import ProvisioningRun
from steward.provisioning.tasks import PEOPLE_TYPES, enqueue_for_school


def on_batch_applied(event: BatchApplied) -> None:
    """After a batch that changed anyone's account-relevant data, every target of the school runs."""
    changed = any(sum(counts.values()) for rt, counts in event.counts.items() if rt in PEOPLE_TYPES)
    if changed:
        enqueue_for_school(event.school_id, ProvisioningRun.Trigger.BATCH)
