"""Events tenancy publishes, so that apps above it react without tenancy naming them."""

from __future__ import annotations

from dataclasses import dataclass

from steward.core.events import Event


@dataclass(frozen=True)
class DataProtectionContactChanged(Event):
    """A school's data protection contact of one kind was created or replaced
    (`tenancy.services.data_protection_contact_set`). The notices print the contacts and subscribe
    *in transaction*: the new version is recorded with the change, or neither happens."""

    kind: str
