"""The ID-token signing keys: from the environment in production, made once (0600) elsewhere, and
rotated keys still published in the JWKS so tokens they signed can be checked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import Client, override_settings

from steward.core import oidc_keys


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_outside_production_a_key_is_made_once_readable_only_by_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEWARD_OIDC_RSA_PRIVATE_KEY", raising=False)
    first = oidc_keys.active_key(tmp_path / "var", production=False)
    path = tmp_path / "var" / "oidc_rsa_key.pem"
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert oidc_keys.active_key(tmp_path / "var", production=False) == first  # kept, not remade


def test_production_needs_the_key_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_OIDC_RSA_PRIVATE_KEY", raising=False)
    with pytest.raises(RuntimeError, match="STEWARD_OIDC_RSA_PRIVATE_KEY"):
        oidc_keys.active_key(tmp_path, production=True)
    assert not list(tmp_path.iterdir())
    pem = _pem()
    monkeypatch.setenv("STEWARD_OIDC_RSA_PRIVATE_KEY", pem)
    assert oidc_keys.active_key(tmp_path, production=True) == pem.strip()


def test_rotated_keys_are_still_published_in_the_jwks(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    old, older = _pem(), _pem()
    monkeypatch.setenv("STEWARD_OIDC_RSA_PRIVATE_KEYS_INACTIVE", f"{old}\n{older}")
    inactive = oidc_keys.inactive_keys()
    assert inactive == [old.strip(), older.strip()]
    with override_settings(OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEYS_INACTIVE": inactive}):
        keys = Client().get("/oauth/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 3 and len({k["kid"] for k in keys}) == 3
    assert all("d" not in k for k in keys)  # public halves only


def test_the_settings_key_is_made_on_first_use_not_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_OIDC_RSA_PRIVATE_KEY", raising=False)
    key = oidc_keys.signing_key(tmp_path / "var", production=False)
    assert not (tmp_path / "var").exists()  # nothing written yet
    assert str(key).startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "var" / "oidc_rsa_key.pem").exists()
