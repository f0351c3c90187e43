"""What a backup carries beside its dump, drilled with the real binaries: the replay log (so a restore
when the live database is lost too still erases again what was erased since) and the service desk's
attachment folder (restored but for the files of a school purged since).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections
from pyrage import x25519
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.retention.backups import BackupError, crypto
from steward.retention.backups.create import backup_create
from steward.retention.backups.location import location_from_settings
from steward.retention.backups.restore import backup_restore, restore_marker
from steward.retention.backups.sidecars import LATEST, attachments_key, extract_attachments, replay_key
from steward.servicedesk import attachments, services
from steward.servicedesk.models import TicketAttachment
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.retention.test_backups import _conninfo, _erase, _purge, backup_key, target

__all__ = ["backup_key", "target"]  # the fixtures, used here by name

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _school(name: str) -> Organisation:
    school = factories.school(name, services_=("hosted_mis", "service_desk"))
    batch_ingest(
        school=school, stream=io.BytesIO(b.json_batch(b.small_school())), format="json", mode="full", sent_by="t"
    )
    return school


def _ticket_with_file(school: Organisation, data: bytes) -> str:
    """A ticket raised by the school's admin with one PNG; the file's storage key."""
    admin: User = factories.user(Role.SCHOOL_ADMIN, school)
    uploads = [attachments.Upload(name="screen.png", data=data, size=len(data))]
    with tenant_scope([school.id]):
        ticket = services.ticket_raise(
            school=school, raised_by=admin, category="other", urgency="low", summary="Screen", description="See",
            actor=Actor.of_user(admin, organisation_id=school.id), attachments=uploads,
        )  # fmt: skip
        return str(TicketAttachment.objects.get(ticket=ticket).storage_key)


def _learners(url_info: dict[str, object], school_id: int) -> list[str]:
    with psycopg.connect(**url_info) as conn:  # type: ignore[arg-type]
        rows = conn.execute("SELECT source_id FROM mis_learner WHERE school_id = %s ORDER BY 1", [school_id])
        return [r[0] for r in rows.fetchall()]


def test_a_restore_reads_what_was_erased_since_from_the_newest_copys_replay_log(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    school = _school("Replay Primary")
    first = backup_create()
    _erase(school, "L2")  # after copy 1, before copy 2
    second = backup_create()
    folder = Path(settings.STEWARD_BACKUP_DIR)
    manifest = json.loads((folder / f"{second.location}.manifest.json").read_text())
    replay = manifest["sidecars"]["replay"]
    assert replay["file"] == replay_key(second.location) and replay["entries"] >= 1
    assert crypto.sha256_of(io.BytesIO((folder / replay["file"]).read_bytes()))[0] == replay["sha256"]
    assert b"L2" not in (folder / replay["file"]).read_bytes()  # encrypted
    assert json.loads((folder / LATEST).read_text())["file"] == second.location
    with connections["owner"].cursor() as cursor:  # the live replay log is lost: only the sidecar has it
        cursor.execute("DELETE FROM retention_restorereplay")

    result = backup_restore(
        copy=first, identity_path=backup_key, target_dir=target, keep_running=True, replay_log="location"
    )
    assert result.usable and result.replayed >= 1
    assert replay["file"] in result.replay_log and "newest copy" in result.replay_log
    assert restore_marker(target)["replay_log"] == result.replay_log
    assert _learners(_conninfo(result.cluster), school.id) == ["L1"]  # type: ignore[arg-type]


def test_auto_reads_the_live_log_when_the_live_database_answers(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    school = _school("Live Primary")
    copy = backup_create()
    _erase(school, "L1")
    result = backup_restore(copy=copy, identity_path=backup_key, target_dir=target, keep_running=True)
    assert result.replay_log == "the live database"
    assert _learners(_conninfo(result.cluster), school.id) == ["L2"]  # type: ignore[arg-type]


def test_a_replay_log_older_than_the_copy_or_missing_is_refused_before_anything_is_restored(
    committed_db: None, backup_key: Path, target: Path
) -> None:
    _school("Old Log Primary")
    copy = backup_create()
    folder = Path(settings.STEWARD_BACKUP_DIR)
    latest = json.loads((folder / LATEST).read_text())
    latest["taken_at"] = "2020-01-01T00:00:00+00:00"
    (folder / LATEST).write_text(json.dumps(latest))
    with pytest.raises(BackupError, match="is older than backup"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=target, replay_log="location")
    (folder / LATEST).unlink()
    with pytest.raises(BackupError, match="has no steward-latest.json"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=target, replay_log="location")
    assert not target.exists()  # refused before the cluster was made


@pytest.fixture
def own_attachment_folder(settings: SettingsWrapper, tmp_path: Path) -> Path:
    """An attachment folder of this test's own: the session's is shared with every other test's files."""
    folder = tmp_path / "attachments"
    settings.STEWARD_ATTACHMENT_DIR = folder
    return folder


def test_the_attachment_folder_comes_back_but_a_purged_schools_files(
    committed_db: None, backup_key: Path, target: Path, tmp_path: Path, own_attachment_folder: Path
) -> None:
    kept, leaving = _school("Desk Kept Primary"), _school("Desk Leaving Primary")
    kept_key = _ticket_with_file(kept, PNG + b"kept")
    leaving_key = _ticket_with_file(leaving, PNG + b"leaving")
    copy = backup_create()
    manifest = json.loads((Path(settings.STEWARD_BACKUP_DIR) / f"{copy.location}.manifest.json").read_text())
    assert manifest["sidecars"]["attachments"]["file"] == attachments_key(copy.location)
    assert manifest["sidecars"]["attachments"]["files"] == 2
    _purge(leaving)

    restored = tmp_path / "restored-attachments"
    result = backup_restore(copy=copy, identity_path=backup_key, target_dir=target, attachments_dir=restored)
    assert result.usable and result.attachments == 1
    assert sorted(p.name for p in restored.iterdir()) == [kept_key]
    assert (restored / kept_key).read_bytes() == PNG + b"kept"
    assert not (restored / leaving_key).exists()
    assert (restored / kept_key).stat().st_mode & 0o077 == 0


def test_restoring_attachments_into_a_folder_that_is_not_empty_is_refused(
    committed_db: None, backup_key: Path, target: Path, tmp_path: Path
) -> None:
    _school("Busy Folder Primary")
    copy = backup_create()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "someone-elses").write_text("x")
    with pytest.raises(BackupError, match="is not an empty folder"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=target, attachments_dir=busy)
    assert not target.exists() and [p.name for p in busy.iterdir()] == ["someone-elses"]


@pytest.mark.parametrize("bad", ["../escaped", "/tmp/absolute", "sub/dir", "link"])  # noqa: S108 - a member name
def test_an_attachment_archive_with_a_path_or_a_link_is_refused(
    bad: str, settings: SettingsWrapper, tmp_path: Path
) -> None:
    identity = x25519.Identity.generate()
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        member = tarfile.TarInfo(bad)
        if bad == "link":
            member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(member)
        else:
            member.size = 3
            tar.addfile(member, io.BytesIO(b"bad"))
    plain.seek(0)
    location = location_from_settings()
    with location.writer("steward-x.attachments.age") as out:
        crypto.encrypt_stream(plain, out, [identity.to_public()])
    dest = tmp_path / "dest" / "inner"
    info = {"file": "steward-x.attachments.age"}
    with pytest.raises(BackupError, match="not a plain attachment file"):
        extract_attachments(location, info, identity, dest, keep={bad, "escaped", "absolute", "dir", "link"})
    assert list(dest.iterdir()) == [] and not (tmp_path / "dest" / "escaped").exists()


AUTO_WITHOUT_LIVE = """
import datetime as dt, django, sys
from pathlib import Path
django.setup()
from steward.retention.backups import crypto
from steward.retention.backups.location import FolderLocation
from steward.retention.backups.restore import replay_source
from steward.retention.models import BackupCopy
copy = BackupCopy(pk=1, taken_at=dt.datetime.fromisoformat(sys.argv[1]))
key = crypto.identity(Path(sys.argv[3]))
print(replay_source(copy, FolderLocation(Path(sys.argv[2])), key, "auto").describe())
"""


def test_auto_reads_the_newest_copys_log_when_the_live_database_does_not_answer(
    committed_db: None, backup_key: Path
) -> None:
    _school("Lost Live Primary")
    copy = backup_create()
    folder = Path(settings.STEWARD_BACKUP_DIR)
    dead = socket.socket()  # a port nothing listens on: the live database is gone
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "steward.settings",
           "DATABASE_URL": f"postgresql://steward@127.0.0.1:{port}/steward"}  # fmt: skip
    found = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", AUTO_WITHOUT_LIVE, copy.taken_at.isoformat(), str(folder), str(backup_key)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert f"the replay log beside the newest copy, {replay_key(copy.location)}" in found.stdout
