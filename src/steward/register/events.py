"""Events the register publishes, for the apps built on it (which it never imports)."""

from __future__ import annotations

from dataclasses import dataclass

from steward.core.events import BaseEvent


@dataclass(frozen=True)
class CatalogueSynced(BaseEvent):
    """`register.services.catalogue_sync` loaded the catalogue (run by `steward setup`). It names no
    school: the catalogue is the processor's, and the register cannot know the schools (tenancy sits
    above it). The notices subscribe *in transaction*: each school's changed notice gets its new
    version with the sync, dated with it, or neither happens and the next `steward setup` retries."""
