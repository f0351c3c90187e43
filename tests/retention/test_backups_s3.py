"""Backups in an S3-compatible object store, and the faults of a backup location.

The object store is moto's server on loopback (`s3_bucket`), spoken to over real HTTP by boto3 through
`S3Location`, exactly as a processor's MinIO or AWS bucket would be; pg_dump, age, pg_restore and the
scratch clusters are real, as in `test_backups.py` (whose drill helpers are reused). The full disk is
a real 1 MiB tmpfs, really filled; the unreachable store is a loopback port nobody listens on.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks import TaskResultStatus
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.retention.backups import BackupError
from steward.retention.backups.create import backup_create
from steward.retention.backups.expire import backup_expire
from steward.retention.backups.location import FolderLocation, location_from_settings
from steward.retention.backups.restore import backup_restore
from steward.retention.backups.s3 import S3Location
from steward.retention.backups.settings_check import check_backup_location
from steward.retention.backups.sidecars import LATEST, sidecar_keys
from steward.retention.backups.verify import backup_verify
from steward.retention.models import BackupCopy
from steward.retention.tasks import backup_create_task
from steward.tenancy.models import Role
from tests import factories
from tests.conftest import TEST_DB
from tests.retention.test_backups import _erase, _restored_rows, _school, backup_key, target  # noqa: F401
from tests.s3_fixtures import S3Bucket

PREFIX = "nightly/steward"
DAY = dt.timedelta(days=1)


@pytest.fixture
def in_bucket(backup_key: Path, s3_bucket: S3Bucket, settings: SettingsWrapper) -> S3Bucket:  # noqa: F811
    """Backups go to the test's bucket (the folder `backup_key` set is then not used)."""
    settings.STEWARD_BACKUP_LOCATION = f"s3://{s3_bucket.name}/{PREFIX}"
    settings.STEWARD_BACKUP_S3_ENDPOINT_URL = s3_bucket.endpoint_url
    return s3_bucket


@pytest.fixture
def admins() -> list[str]:
    processor = factories.processor()
    factories.user(Role.PROCESSOR_ADMIN, processor, email="ops@ict.invalid")
    factories.user(Role.PROCESSOR_SUPPORT, processor, email="desk@ict.invalid")  # not an administrator
    return ["ops@ict.invalid"]


def _object(bucket: S3Bucket, key: str) -> bytes:
    return bytes(bucket.client.get_object(Bucket=bucket.name, Key=f"{PREFIX}/{key}")["Body"].read())


def _uploads(bucket: S3Bucket) -> list[str]:
    return [u["Key"] for u in bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])]


def test_a_backup_in_an_object_store_restores_verifies_refuses_a_flipped_byte_and_expires(
    committed_db: None,
    backup_key: Path,  # noqa: F811
    in_bucket: S3Bucket,
    target: Path,  # noqa: F811
    settings: SettingsWrapper,
) -> None:
    school = _school("Bucket Primary")
    copy = backup_create()
    # The dump, its manifest, its sidecars (the replay log, the attachment folder) and the pointer to the newest.
    expected = [copy.location, f"{copy.location}.manifest.json", *sidecar_keys(copy.location), LATEST]
    assert in_bucket.keys() == sorted(f"{PREFIX}/{key}" for key in expected)
    assert copy.store == f"s3://{in_bucket.name}/{PREFIX}?endpoint_url={in_bucket.endpoint_url}"
    body = _object(in_bucket, copy.location)
    assert hashlib.sha256(body).hexdigest() == copy.sha256 and len(body) == copy.size_bytes
    assert b"Priya" not in body  # encrypted, not plain
    manifest = json.loads(_object(in_bucket, f"{copy.location}.manifest.json"))
    assert manifest["sha256"] == copy.sha256 and manifest["schools"][0]["urn"] == school.urn
    assert not (backup_key.parent / "backups").exists()  # nothing written to the local folder
    assert _uploads(in_bucket) == []

    _erase(school, "L2")  # after the backup
    # The setting moves on (to a folder); the copy's recorded store still says where it is.
    settings.STEWARD_BACKUP_LOCATION = ""
    settings.STEWARD_BACKUP_S3_ENDPOINT_URL = ""

    restored = backup_restore(copy=copy, identity_path=backup_key, target_dir=target, keep_running=True)
    assert restored.usable and restored.replayed >= 1 and restored.cluster is not None
    learners = _restored_rows(restored.cluster, "SELECT school_id, source_id FROM mis_learner ORDER BY 1, 2", [])
    assert learners == [(school.id, "L1")]  # L2 is erased again
    restored.cluster.stop()

    verified = backup_verify(copy=copy, identity_path=backup_key)  # from the bucket, into a scratch server
    assert verified["ok"] is True and verified["replayed"] >= 1, verified
    assert verified["audit_chain"]["checked"] > 0 and verified["rows_per_school"][str(school.id)] >= 10
    copy.refresh_from_db()
    assert copy.verified_ok is True

    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 0x01
    in_bucket.client.put_object(Bucket=in_bucket.name, Key=f"{PREFIX}/{copy.location}", Body=bytes(damaged))
    elsewhere = target.parent / "second"
    with pytest.raises(BackupError, match=f"backup {copy.pk} .* is damaged: .*nothing was restored"):
        backup_restore(copy=copy, identity_path=backup_key, target_dir=elsewhere)
    assert not elsewhere.exists()

    expired = backup_expire(now=copy.kept_until + DAY)
    assert [c.pk for c in expired.deleted] == [copy.pk]
    assert in_bucket.keys() == [f"{PREFIX}/{LATEST}"]  # the object, its manifest and sidecars
    copy.refresh_from_db()
    assert copy.deleted_at == copy.kept_until + DAY


def test_a_create_killed_mid_upload_leaves_no_object_and_expiry_aborts_the_upload(
    committed_db: None,
    backup_key: Path,  # noqa: F811
    in_bucket: S3Bucket,
) -> None:
    """`steward backup create` in its own process, killed with SIGKILL once its upload has begun."""
    _school("Killed Primary")
    env = {
        **os.environ,  # the test server's credentials (s3_server) are in the environment
        "STEWARD_DB_NAME": TEST_DB,
        "STEWARD_BACKUP_LOCATION": settings.STEWARD_BACKUP_LOCATION,
        "STEWARD_BACKUP_S3_ENDPOINT_URL": settings.STEWARD_BACKUP_S3_ENDPOINT_URL,
        "STEWARD_BACKUP_RECIPIENTS": ",".join(settings.STEWARD_BACKUP_RECIPIENTS),
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "steward", "backup", "create"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not _uploads(in_bucket) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the backup finished before it could be killed"
    process.kill()
    process.communicate(timeout=30)

    [upload] = _uploads(in_bucket)
    assert upload.startswith(f"{PREFIX}/steward-") and upload.endswith(".dump.age")
    assert in_bucket.keys() == []  # nothing under the key, nor a manifest
    assert not BackupCopy.objects.exists()

    # (Whether an upload younger than a day is left alone is not testable here: moto reports every
    # upload as initiated on 2010-11-10. The folder's `.partial` files are tested for it below.)
    assert backup_expire(now=timezone.now() + 2 * DAY).incomplete == [upload.removeprefix(f"{PREFIX}/")]
    assert _uploads(in_bucket) == []


def test_the_writer_streams_in_parts_and_an_exception_aborts_the_upload(s3_bucket: S3Bucket) -> None:
    store = S3Location(s3_bucket.name, "p", endpoint_url=s3_bucket.endpoint_url, part_size=5 * 1024 * 1024)
    chunk = os.urandom(1024 * 1024)
    with store.writer("big") as out:
        for _ in range(11):  # three parts: 5 + 5 + 1 MiB
            out.write(chunk)
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="p/big")
    assert head["ContentLength"] == 11 * len(chunk) and head["ETag"].strip('"').endswith("-3")
    digest = hashlib.sha256()
    with store.reader("big") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    assert digest.hexdigest() == hashlib.sha256(chunk * 11).hexdigest()

    def write_then_fail() -> None:
        with store.writer("broken") as out:
            for _ in range(6):  # one part already sent
                out.write(chunk)
            raise RuntimeError("pg_dump died")

    with pytest.raises(RuntimeError, match="pg_dump died"):
        write_then_fail()
    assert s3_bucket.keys() == ["p/big"] and _uploads(s3_bucket) == []
    assert store.list() == ["big"] and store.exists("big") and not store.exists("broken")
    with pytest.raises(BackupError, match=f"backup file broken is not in object store s3://{s3_bucket.name}/p"):
        store.reader("broken").__enter__()
    assert store.delete("big") is True and store.delete("big") is False and s3_bucket.keys() == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the socket is: nobody listens there


@pytest.mark.django_db
def test_an_unreachable_object_store_fails_the_nightly_backup_in_one_line_and_emails_the_admins(
    backup_key: Path,  # noqa: F811
    admins: list[str],
    settings: SettingsWrapper,
    s3_server: str,  # its dummy credentials: the store is unreachable, not the credentials missing
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    settings.STEWARD_BACKUP_LOCATION = "s3://steward-gone/nightly"
    settings.STEWARD_BACKUP_S3_ENDPOINT_URL = endpoint

    result = backup_create_task.enqueue()

    assert result.status == TaskResultStatus.FAILED
    assert not BackupCopy.objects.exists()
    [message] = mail.outbox
    assert message.to == admins and message.subject == "Steward: last night's backup failed"
    why = f"in object store s3://steward-gone/nightly at {endpoint}: the object store is unreachable"
    assert why in message.body
    with pytest.raises(CommandError) as refused:
        call_command("backup", "create")
    assert why in str(refused.value) and "\n" not in str(refused.value)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs, filled but for 16 KiB (far less than any backup of the database)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(  # noqa: S603
        ["/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 16 * 1024))
        yield disk
    finally:
        subprocess.run(["/bin/umount", str(disk)], check=False)  # noqa: S603


@pytest.mark.django_db
def test_a_full_disk_fails_the_nightly_backup_in_one_line_leaves_no_file_and_emails_the_admins(
    backup_key: Path,  # noqa: F811
    admins: list[str],
    full_disk: Path,
    settings: SettingsWrapper,
) -> None:
    settings.STEWARD_BACKUP_DIR = full_disk

    result = backup_create_task.enqueue()

    assert result.status == TaskResultStatus.FAILED
    assert not BackupCopy.objects.exists()
    assert [p.name for p in full_disk.iterdir()] == ["filler"]  # no partial file, no manifest
    [message] = mail.outbox
    assert message.to == admins
    why = f"cannot write the backup to folder {full_disk}: {os.strerror(errno.ENOSPC)} (errno {errno.ENOSPC})"
    assert why in message.body


@pytest.mark.parametrize(
    ("location", "endpoint", "said"),
    [
        ("gs://bucket/x", "", "not a folder path or s3://bucket/prefix"),
        ("s3://", "", "names no bucket"),
        ("s3://Bad_Bucket/x", "", "not an S3 bucket name: 'Bad_Bucket'"),
        ("s3://bucket/a/../b", "", "not a backup file name: 'a/../b'"),
        ("relative/backups", "", "a folder must be an absolute path"),
        ("s3://bucket/x", "minio:9000", "S3 endpoint 'minio:9000' is not an http(s):// URL"),
    ],
)
def test_a_malformed_backup_location_fails_the_system_check_naming_it(
    settings: SettingsWrapper, location: str, endpoint: str, said: str
) -> None:
    settings.STEWARD_BACKUP_LOCATION = location
    settings.STEWARD_BACKUP_S3_ENDPOINT_URL = endpoint
    [error] = check_backup_location()
    assert isinstance(error, Error) and error.id == "retention.E001" and said in error.msg


def test_a_well_formed_location_passes_and_the_folder_stays_the_default(
    settings: SettingsWrapper, tmp_path: Path
) -> None:
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    settings.STEWARD_BACKUP_LOCATION = ""
    assert check_backup_location() == []
    assert isinstance(location_from_settings(), FolderLocation)
    settings.STEWARD_BACKUP_LOCATION = "s3://steward-backups/prod"
    settings.STEWARD_BACKUP_S3_ENDPOINT_URL = "https://minio.example:9000"
    assert check_backup_location() == []
    assert location_from_settings().uri == "s3://steward-backups/prod?endpoint_url=https://minio.example:9000"


def test_the_folder_clears_partial_files_older_than_a_day_and_lists_complete_ones(tmp_path: Path) -> None:
    folder = FolderLocation(tmp_path)
    (tmp_path / "old.dump.age.partial").write_bytes(b"x")
    (tmp_path / "new.dump.age.partial").write_bytes(b"x")
    (tmp_path / "done.dump.age").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(tmp_path / "old.dump.age.partial", (two_days_ago, two_days_ago))
    assert folder.clear_incomplete(timezone.now() - DAY) == ["old.dump.age.partial"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.dump.age", "new.dump.age.partial"]
    assert folder.list() == ["done.dump.age"] and folder.list("x") == []
