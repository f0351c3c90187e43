"""The RSA keys Steward signs OpenID Connect ID tokens with (rostering/oidc.py).

Production names its keys in the environment: `STEWARD_OIDC_RSA_PRIVATE_KEY` (PEM) signs, and
`STEWARD_OIDC_RSA_PRIVATE_KEYS_INACTIVE` (PEMs, each ending at its END line) are still published in
the JWKS so apps can check ID tokens signed before a rotation. Rotation: generate a new key, make
it the active one and move the old one to the inactive list; once every ID token signed with it
has expired (minutes) and apps have refreshed the JWKS, drop it. Outside production a key is made
the first time one is needed into `var/oidc_rsa_key.pem` (0600), as `core/sealed.py` does for its
data key, so a demo needs no setting. Importing the settings writes nothing (`signing_key` is lazy),
and processes that start together all end up with the one key (`core/local_secrets.py`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils.functional import lazy

from steward.core import local_secrets

_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


def active_key(var_dir: Path, *, production: bool) -> str:
    """The PEM that signs: from the environment, else (not in production) made once under var/."""
    if configured := os.environ.get("STEWARD_OIDC_RSA_PRIVATE_KEY", "").strip():
        return configured
    if production:
        raise RuntimeError("STEWARD_OIDC_RSA_PRIVATE_KEY must be set when STEWARD_ENV=production")
    return local_secrets.read_or_make(var_dir / "oidc_rsa_key.pem", _new_pem)


def signing_key(var_dir: Path, *, production: bool) -> str:
    """`active_key` for the settings: checked at once in production, made on first use elsewhere."""
    if production or os.environ.get("STEWARD_OIDC_RSA_PRIVATE_KEY", "").strip():
        return active_key(var_dir, production=production)
    return _lazy_key(var_dir)


def _key_under(var_dir: Path) -> str:
    return active_key(var_dir, production=False)


_lazy_key = lazy(_key_under, str)


def _new_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def inactive_keys() -> list[str]:
    """Keys rotated out but still published, so ID tokens they signed can still be checked."""
    return _PEM.findall(os.environ.get("STEWARD_OIDC_RSA_PRIVATE_KEYS_INACTIVE", ""))
