"""The hash of an audit event: SHA-256 of a canonical JSON form that includes the previous hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64
# The event that seals every chain's newest event (`services.audit_seal_heads`), checked by the walk.
SEAL_ACTION = "audit_chain_heads"
HASHED_FIELDS = (
    "id",
    "occurred_at",
    "actor_user_id",
    "actor_client",
    "actor_label",
    "organisation_id",
    "school_id",
    "action",
    "object_type",
    "object_ids",
    "purpose",
    "request_id",
    "ip_address",
    "user_agent",
    "detail",
    "prev_hash",
)


def event_hash(values: dict[str, Any]) -> str:
    canonical = {name: _canonical(values.get(name)) for name in HASHED_FIELDS}
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, tuple):
        return list(value)
    return value
