"""Restore drills: real pg_dump and pg_restore (the embedded wheel's), real age encryption, a real fresh
cluster on loopback. Take a backup, erase a pupil and purge a school through the real services,
restore, and the pupil and the school are gone again while the rest is back; a damaged file, a wrong
key and a non-empty target are refused before anything is restored.

Committed (`committed_db`): pg_dump reads through its own connection, which sees only committed rows.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pyrage import x25519
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.actor import Actor
from steward.core import database, embedded_db
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner
from steward.retention.backups import BackupError
from steward.retention.backups.checks import rows_per_school
from steward.retention.backups.create import backup_create
from steward.retention.backups.postgres import Cluster, binaries_version, major, same_major_or_refuse
from steward.retention.backups.restore import backup_restore, restore_marker
from steward.retention.backups.verify import backup_verify
from steward.retention.models import BackupCopy
from steward.retention.termination import termination_purge, termination_start
from steward.rights import services as rights
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.conftest import TEST_DB
from tests.ingest import builders as b


@pytest.fixture
def backup_key(settings: SettingsWrapper, tmp_path: Path) -> Path:
    """A key pair made here: the public half in the settings, the private half only in a file the
    restore is given (as the processor's key holder would)."""
    identity = x25519.Identity.generate()
    settings.STEWARD_BACKUP_RECIPIENTS = [str(identity.to_public())]
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    settings.STEWARD_TERMINATION_DIR = tmp_path / "terminations"
    key = tmp_path / "backup-key.txt"
    key.write_text(f"# the processor's backup key\n{identity}\n")
    return key


@pytest.fixture
def target() -> Iterator[Path]:
    """A directory for a restored cluster that the server's own user can reach (as root, not us)."""
    parent = Path(tempfile.mkdtemp(prefix="steward-restore-test-"))
    if os.geteuid() == 0:  # as root the server runs as its own user
        shutil.chown(parent, user=embedded_db.SYSTEM_USER)
    yield parent / "pg"
    if (parent / "pg").exists():
        Cluster(parent / "pg").stop()
    shutil.rmtree(parent, ignore_errors=True)


def _school(name: str) -> Organisation:
    school = factories.school(name)
    batch_ingest(
        school=school, stream=io.BytesIO(b.json_batch(b.small_school())), format="json", mode="full", sent_by="t"
    )
    return school


def _erase(school: Organisation, source_id: str) -> None:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id=source_id)
        request = rights.request_log(
            school=school, kind="erasure", subject_kind="learner", subject_id=learner.pk, subject_label=source_id,
            requested_by="parent", received_on=timezone.localdate(), actor=Actor.system("DPO"),
        )  # fmt: skip
        request.identity_checked = True
        request.save()
        rights.erasure_execute(request=request, actor=Actor.system("DPO"))


def _purge(school: Organisation) -> None:
    termination = termination_start(
        contract=Contract.objects.get(school=school), requested_by="Processor Admin", reason="Joining a trust"
    )
    termination_purge(termination=termination, confirmed_by="Processor Admin", override_window=True)


def _restored_rows(cluster: Cluster, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Read the restored database as its superuser (whom row-level security does not hide rows from)."""
    with psycopg.connect(**_conninfo(cluster)) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _conninfo(cluster: Cluster) -> dict[str, Any]:
    env = cluster.env()
    return {"host": env["PGHOST"], "port": env["PGPORT"], "user": "postgres", "password": env["PGPASSWORD"],
            "dbname": env["PGDATABASE"]}  # fmt: skip


def test_a_restore_brings_everything_back_but_what_was_erased_and_purged_since(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    kept, leaving = _school("Kept Primary"), _school("Leaving Primary")
    copy = backup_create()
    assert copy.sha256 and copy.size_bytes > 0 and sorted(copy.school_ids) == sorted([kept.id, leaving.id])
    assert copy.place == "uk-backup"
    assert (backup_key.parent / "backups" / copy.location).stat().st_mode & 0o077 == 0  # owner-only
    manifest = json.loads((Path(backup_key.parent / "backups") / f"{copy.location}.manifest.json").read_text())
    assert manifest["sha256"] == copy.sha256 and {s["urn"] for s in manifest["schools"]} == {kept.urn, leaving.urn}
    assert b"Priya" not in (backup_key.parent / "backups" / copy.location).read_bytes()  # encrypted, not plain

    _erase(kept, "L2")  # after the backup: an erasure, and a whole school purged
    _purge(leaving)

    result = backup_restore(copy=copy, identity_path=backup_key, target_dir=target, keep_running=True)
    assert result.usable and result.replayed >= 2
    assert restore_marker(target)["usable"] is True
    cluster = result.cluster
    assert cluster is not None
    learners = _restored_rows(cluster, "SELECT school_id, source_id FROM mis_learner ORDER BY 1, 2", [])
    assert learners == [(kept.id, "L1")]  # L2 erased again; the leaving school's L1 and L2 purged again
    contacts = _restored_rows(cluster, "SELECT school_id, source_id FROM mis_contact ORDER BY 1, 2", [])
    with tenant_scope([kept.id]):  # the contacts are back as the live database has them after the erasure
        assert contacts == [
            (kept.id, c) for c in Contact.objects.order_by("source_id").values_list("source_id", flat=True)
        ]
    assert contacts
    (comment,) = _restored_rows(
        cluster, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'steward'", []
    )[0]
    assert "usable" in comment and "NOT USABLE" not in comment


def test_verify_restores_into_a_scratch_server_checks_it_and_records_the_result(
    committed_db: None, backup_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the commands, as an operator runs them."""
    school = _school("Verified Primary")
    call_command("backup", "create")
    copy = BackupCopy.objects.get()
    assert f"Backup {copy.pk} written: {copy.location}" in capsys.readouterr().out
    live = rows_per_school()
    scratch_before = set(Path(tempfile.gettempdir()).glob("steward-verify-*"))  # others' leftovers are not ours
    call_command("backup", "verify", "--backup", str(copy.pk), "--identity", str(backup_key))
    assert f"Backup {copy.pk} verified: audit chain intact" in capsys.readouterr().out
    copy.refresh_from_db()
    result = copy.verification
    assert copy.verified_ok is True and copy.verified_at is not None and result["ok"] is True, result
    assert result["audit_chain"]["ok"] and result["audit_chain"]["checked"] > 0
    assert result["tables_without_forced_rls"] == []
    assert result["rows_per_school"] == live and live[str(school.id)] >= 10  # every row of the school came back
    assert set(Path(tempfile.gettempdir()).glob("steward-verify-*")) <= scratch_before  # its scratch server is gone


def test_a_damaged_backup_is_refused_before_anything_is_restored(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    copy = backup_create()
    path = backup_key.parent / "backups" / copy.location
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=f"backup {copy.pk} .* is damaged: .*nothing was restored"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=target)
    assert not target.exists()


def test_a_wrong_or_missing_key_is_named_as_such(committed_db: None, backup_key: Path, target: Path) -> None:
    copy = backup_create()
    other = backup_key.parent / "other-key.txt"
    other.write_text(f"{x25519.Identity.generate()}\n")
    with pytest.raises(BackupError, match="the key given cannot open backup"):
        backup_restore(copy=copy, identity_path=other, target_dir=target)
    lost = str(backup_key.parent / "lost.txt")
    with pytest.raises(CommandError, match="cannot read the backup key file"):
        call_command("backup", "restore", "--backup", str(copy.pk), "--identity", lost, "--target-dir", str(target))
    assert not target.exists()


def test_a_restore_refuses_a_database_that_is_not_empty(committed_db: None, backup_key: Path) -> None:
    copy = backup_create()
    live = f"postgresql://postgres@/{TEST_DB}?host={embedded_db.ensure_running()}"
    with pytest.raises(BackupError, match=f"database {TEST_DB} is not empty"):
        backup_restore(copy=copy, identity_path=backup_key, database_url=live)
    assert BackupCopy.objects.count() == 1  # the live database is as it was


def test_a_restore_refuses_a_data_directory_that_is_not_empty(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    copy = backup_create()
    target.mkdir()
    (target / "someone-elses-file").write_text("keep me")
    with pytest.raises(BackupError, match="is not empty: restore into a new"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=target)
    assert [p.name for p in target.iterdir()] == ["someone-elses-file"]


def test_a_verification_that_cannot_restore_is_recorded_as_failed(committed_db: None, backup_key: Path) -> None:
    copy = backup_create()
    other = backup_key.parent / "other-key.txt"
    other.write_text(f"{x25519.Identity.generate()}\n")
    result = backup_verify(copy=copy, identity_path=other)
    copy.refresh_from_db()
    assert result["ok"] is False and "cannot open backup" in result["error"]
    assert copy.verified_ok is False and copy.verified_at is not None


def test_create_refuses_without_a_recipient(committed_db: None, backup_key: Path, settings: SettingsWrapper) -> None:
    settings.STEWARD_BACKUP_RECIPIENTS = []
    with pytest.raises(CommandError, match="no backup recipient: set STEWARD_BACKUP_RECIPIENTS"):
        call_command("backup", "create")
    assert not BackupCopy.objects.exists()
    assert not (backup_key.parent / "backups").exists() or not any((backup_key.parent / "backups").iterdir())


def test_a_backup_killed_part_way_leaves_no_copy_recorded(committed_db: None, backup_key: Path) -> None:
    """`steward backup create` in its own process, killed with SIGKILL once its file is being written."""
    _school("Killed Primary")
    folder = backup_key.parent / "backups"
    env = {
        **os.environ,
        "STEWARD_DB_NAME": TEST_DB,
        "STEWARD_BACKUP_DIR": str(folder),
        "STEWARD_BACKUP_RECIPIENTS": ",".join(settings.STEWARD_BACKUP_RECIPIENTS),
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "steward", "backup", "create"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not list(folder.glob("*.partial")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, "the backup finished before it could be killed"
    process.kill()
    process.communicate(timeout=30)
    assert not BackupCopy.objects.exists()
    assert not [p for p in folder.iterdir() if not p.name.endswith(".partial")]  # no file under a final name


def test_a_restore_into_an_empty_database_on_a_server_replays_and_marks_it_usable(
    committed_db: None, backup_key: Path
) -> None:
    school = _school("Server Primary")
    copy = backup_create()
    _erase(school, "L1")
    name = f"{TEST_DB}_restored"
    database.ensure_database(name, recreate=True)
    url = f"postgresql://postgres@/{name}?host={embedded_db.ensure_running()}"
    try:
        result = backup_restore(copy=copy, identity_path=backup_key, database_url=url)
        assert result.usable and result.replayed >= 1
        with psycopg.connect(url) as conn:
            learners = conn.execute("SELECT source_id FROM mis_learner WHERE school_id = %s", [school.id]).fetchall()
            (comment,) = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
            ).fetchone() or (None,)
        assert learners == [("L2",)]
        assert comment is not None and f"restore of backup {copy.pk}: usable" in comment
    finally:
        database.drop_database(name)


def test_a_server_of_another_major_version_is_refused_with_both_versions_named() -> None:
    ours = binaries_version()
    other = f"{major(ours) - 1}.4"
    with pytest.raises(BackupError, match=f"PostgreSQL {other}, but Steward's embedded binaries are PostgreSQL {ours}"):
        same_major_or_refuse(other)
    same_major_or_refuse(f"{major(ours)}.0")  # the same major version is accepted
