"""Secrets made on first use under var/: 0600, made once, and the same in processes that race."""

from __future__ import annotations

import functools
import multiprocessing
import secrets
import stat
from pathlib import Path

from steward.core import local_secrets


def _token() -> bytes:
    return secrets.token_urlsafe(32).encode()


def test_a_secret_is_made_once_and_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    first = local_secrets.read_or_make(path, _token)
    assert len(first) == 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secrets.read_or_make(path, _token) == first


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    """Eight processes race for the same file (as two dated test runs did for the OIDC key)."""
    var = tmp_path / "var"
    make = functools.partial(local_secrets.read_or_make, make=_token)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        made = pool.map(make, [var / "secret_key"] * 8)
    assert len(set(made)) == 1 and made[0]
    assert [p.name for p in var.iterdir()] == ["secret_key"]  # no candidates left behind
