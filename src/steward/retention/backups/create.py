"""`steward backup create`: `pg_dump -Fc` of the whole database (or, with the WAL archived, a
`pg_basebackup` tar of the cluster), streamed through age to a location.

Nothing is held in memory: pg_dump writes to a pipe, pyrage reads it in chunks and writes the
ciphertext through a hashing writer into the location's temporary file (or multipart upload). Only
when pg_dump exited cleanly, the file is synced and renamed (the upload completed), its sidecars (the
replay log, the attachment folder: `sidecars.py`) and its manifest written, is the `BackupCopy`
recorded, with the location's URI as its `store`; a run killed at any point before leaves at most a
`.partial` file (an incomplete upload) and no copy recorded as good. A failure to write (a full disk,
an unreachable object store) is one `BackupError` line naming the location and the cause, and leaves
nothing under the backup's key.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from steward.register.models import PlaceOfProcessing
from steward.retention.backups import BackupError, crypto, postgres, sidecars
from steward.retention.backups.location import Location, location_from_settings
from steward.retention.backups.manifest import Manifest, manifest_data, write_manifest
from steward.retention.models import BackupCopy
from steward.retention.services import backup_record
from steward.tenancy.models import Organisation

logger = logging.getLogger(__name__)

PLACE = "uk-backup"  # the register's place of processing for backups (register.catalogue PLACES)


def backup_create(
    *,
    location: Location | None = None,
    now: dt.datetime | None = None,
    kind: str = "auto",
    source: dict[str, str] | None = None,
) -> BackupCopy:
    """`kind` "dump" (pg_dump), "base" (pg_basebackup, for a point-in-time restore with the archived
    WAL) or "auto" (base when STEWARD_WAL_ARCHIVE is on). `source` is libpq's environment for another
    server than Steward's own (the drills' scratch cluster)."""
    if kind == "auto":
        kind = BackupCopy.Kind.BASE if settings.STEWARD_WAL_ARCHIVE else BackupCopy.Kind.DUMP
    if kind not in BackupCopy.Kind.values:
        raise BackupError(f"unknown backup kind {kind!r}: use base, dump or auto")
    to = crypto.recipients(list(settings.STEWARD_BACKUP_RECIPIENTS))
    if not PlaceOfProcessing.objects.filter(code=PLACE).exists():
        raise BackupError(f"the register has no place of processing {PLACE!r} for backups: run `steward setup`")
    location = location or location_from_settings()
    env = source or postgres.source_env()
    version = postgres.server_version(env)
    postgres.same_major_or_refuse(version)
    wal_start = start_lsn = ""
    if kind == BackupCopy.Kind.BASE:
        wal_start, start_lsn = _base_preflight(env)
    taken_at = now or timezone.now()  # before pg_dump's snapshot: the replay starts from here
    found = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("id"))
    schools: list[dict[str, object]] = [{"id": s.id, "urn": s.urn, "name": s.name} for s in found]
    stamp = f"steward-{taken_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}"
    if kind == BackupCopy.Kind.BASE:
        key = f"{stamp}.base.tar.age"
        argv = [str(postgres.bin_path("pg_basebackup")), "--pgdata=-", "--format=tar", "--wal-method=none",
                "--checkpoint=fast", "--no-password"]  # fmt: skip
    else:
        key = f"{stamp}.dump.age"
        argv = [str(postgres.bin_path("pg_dump")), "--format=custom", "--no-password"]
    hashing = _write_encrypted(argv, env, location, key, to)
    # The replay log and the attachment folder beside the copy, before the manifest that names them.
    written = {
        "replay": sidecars.write_replay_log(location, key, env, to),
        "attachments": sidecars.write_attachments(location, key, Path(settings.STEWARD_ATTACHMENT_DIR), to),
    }
    manifest = Manifest(
        file=key,
        taken_at=taken_at.astimezone(dt.UTC).isoformat(),
        pg_version=version,
        schools=schools,
        size_bytes=hashing.size,
        sha256=hashing.sha256.hexdigest(),
        sidecars=written,
        kind=kind,
        wal_start=wal_start,
        start_lsn=start_lsn,
        database=env["PGDATABASE"],
        **({"dump_format": "pg_basebackup tar (-Ft -X none), WAL archived apart"} if kind == "base" else {}),
    )
    try:
        write_manifest(location, manifest)
    except BaseException as error:  # a file without its manifest is no backup: take it away again
        _remove_quietly(location, key)
        if isinstance(error, OSError):
            raise _write_failed(location, error) from error
        raise
    sidecars.write_latest(location, manifest_data(manifest))
    return backup_record(
        store=location.uri,
        taken_at=taken_at,
        place=PLACE,
        location=key,
        school_ids=[s.id for s in found],
        sha256=manifest.sha256,
        size_bytes=manifest.size_bytes,
        pg_version=version,
        kind=kind,
        wal_start=wal_start,
    )


def _write_failed(location: Location, error: BaseException) -> BackupError:
    """One line naming the location and the cause (the location's own message when it has one)."""
    if isinstance(error, BackupError):
        return error
    why = f"{error.strerror} (errno {error.errno})" if isinstance(error, OSError) and error.strerror else str(error)
    return BackupError(f"cannot write the backup to {location.description}: {why}".replace("\n", " "))


def _remove_quietly(location: Location, key: str) -> None:
    try:
        location.delete(key)
    except Exception:  # noqa: BLE001 - the failure being raised is the one to tell
        logger.exception("could not remove %s from %s after its manifest failed", key, location.description)


def _base_preflight(env: dict[str, str]) -> tuple[str, str]:
    """Refuse a base backup the archived WAL could not carry forward; return the WAL segment and LSN
    it starts no later than (read before its checkpoint, so the WAL kept from there is never too little)."""
    with postgres.connect(env) as conn:
        settings_now = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'wal_segment_size')"
            ).fetchall()
        )
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn()), pg_current_wal_lsn()::text").fetchone()
    if settings_now.get("archive_mode") not in {"on", "always"}:
        raise BackupError(
            "a base backup needs the server to archive its WAL, and archive_mode is off: set STEWARD_WAL_ARCHIVE=on "
            "and restart the embedded server (`steward backup create --kind dump` still works)"
        )
    if settings_now.get("wal_segment_size") != str(16 * 1024 * 1024):
        raise BackupError("a base backup needs the default 16 MB WAL segments (initdb --wal-segsize=16)")
    assert row is not None  # noqa: S101
    return str(row[0]), str(row[1])


def _write_encrypted(
    argv: list[str], env: dict[str, str], location: Location, key: str, to: list[object]
) -> crypto.HashingWriter:
    """Run `argv` (pg_dump or pg_basebackup) writing to a pipe, encrypted on the way into `key`."""
    program = Path(argv[0]).name
    with location.writer(key) as out, tempfile.TemporaryFile() as errors:
        hashing = crypto.HashingWriter(out)
        proc = subprocess.Popen(  # noqa: S603 - the wheel's program, fixed arguments  # nosec B603
            argv,
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            env=postgres.run_env(env),
        )
        assert proc.stdout is not None  # noqa: S101
        try:
            crypto.encrypt_stream(proc.stdout, hashing, to)
        except Exception as error:  # a full disk, a lost object store: the location removes what was written
            proc.kill()
            raise _write_failed(location, hashing.error or error) from error
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise BackupError(f"{program} failed (exit {code}): {lines[-1] if lines else 'no message'}")
    return hashing
