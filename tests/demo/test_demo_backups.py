"""The demo takes a backup at set-up and verifies it: the demo's own key pair (its private half
owner-only under var/, a demo-only convenience), a real pg_dump encrypted to it, a real restore into a
scratch server, and the summary `steward demo` prints. In process and kept small: the demo's
organisations only (the MIS data changes nothing here but the dump's size)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyrage import x25519
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.demo import loader
from steward.demo.management.commands.demo import backups_summary
from steward.retention.models import BackupCopy


def test_the_demo_takes_a_backup_with_its_own_key_and_verifies_it(
    committed_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    monkeypatch.setattr(loader, "CREDENTIALS_PATH", tmp_path / "demo-credentials.json")
    monkeypatch.setattr(loader, "BACKUP_KEY_PATH", tmp_path / "var" / "demo-backup-key.txt")
    monkeypatch.setenv("STEWARD_BACKUP_RECIPIENTS", "")  # restored after: the demo sets them for its processes
    monkeypatch.setenv("STEWARD_BACKUP_IDENTITY_FILE", "")
    operator = x25519.Identity.generate().to_public()  # a recipient the operator set: kept beside the demo's
    settings.STEWARD_BACKUP_RECIPIENTS = [str(operator)]
    settings.STEWARD_BACKUP_IDENTITY_FILE = ""
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    loader.load_demo("http://127.0.0.1:8123")

    credentials = loader.load_demo_backup()

    key = tmp_path / "var" / "demo-backup-key.txt"
    assert key.stat().st_mode & 0o777 == 0o600  # owner-only
    assert "Steward demo only" in key.read_text()
    _, public = loader.demo_backup_key()
    assert [str(operator), public] == settings.STEWARD_BACKUP_RECIPIENTS
    assert os.environ["STEWARD_BACKUP_RECIPIENTS"] == f"{operator},{public}"  # for the server, worker, scheduler
    assert os.environ["STEWARD_BACKUP_IDENTITY_FILE"] == str(key)
    [copy] = BackupCopy.objects.all()
    assert copy.verified_ok is True, copy.verification
    assert len(copy.school_ids) == 3 and copy.verification["tables_without_forced_rls"] == []
    backups = credentials["backups"]
    assert backups["backup_id"] == copy.pk and backups["verified_ok"] is True
    assert backups["page_url"] == "http://127.0.0.1:8123/processor/backups/"
    assert backups_summary().startswith("Backups: 1 copy, verified at ")
    assert loader.read_credentials()["backups"] == backups  # kept: a second `steward demo` takes none
