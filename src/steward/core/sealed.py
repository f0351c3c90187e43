"""Secrets Steward must use again later (a webhook's signing key) are stored sealed, not plain.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`, already installed for Web Push)
with the data key from `STEWARD_DATA_KEYS`: comma-separated Fernet keys, the first seals and
all unseal, so a key can be rotated. Outside production, one key is generated into
`var/data_key` (0600) on first use, like the Django secret key. A database copy or backup alone
no longer gives away the secrets: the key lives outside the database.
"""

from __future__ import annotations

import os
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

from steward.core import local_secrets
from steward.core.paths import VAR_DIR

PREFIX = "fernet:"


@cache
def _keys() -> MultiFernet:
    configured = [k.strip() for k in os.environ.get("STEWARD_DATA_KEYS", "").split(",") if k.strip()]
    if not configured:
        if getattr(settings, "PRODUCTION", False):
            raise RuntimeError("STEWARD_DATA_KEYS must be set when STEWARD_ENV=production")
        configured = [local_secrets.read_or_make(VAR_DIR / "data_key", Fernet.generate_key)]
    return MultiFernet([Fernet(k.encode()) for k in configured])


def seal(plain: str) -> str:
    return PREFIX + _keys().encrypt(plain.encode()).decode() if plain else ""


def unseal(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ValueError("a secret was stored unsealed")
    return _keys().decrypt(stored.removeprefix(PREFIX).encode()).decode()
