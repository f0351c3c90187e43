"""Events consents publishes (see `steward.core.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from steward.core.events import Event


@dataclass(frozen=True)
class ConsentWithdrawn(Event):
    """A school withdrew a consent. The service desk (which consents may not import) destroys the
    investigation copies made under it, inside the withdrawal's transaction."""

    consent_id: int
    withdrawn_by: str
