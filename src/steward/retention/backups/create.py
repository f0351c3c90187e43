"""`steward backup create`: `pg_dump -Fc` of the whole database, streamed through age to a location.

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


def backup_create(*, location: Location | None = None, now: dt.datetime | None = None) -> BackupCopy:
    to = crypto.recipients(list(settings.STEWARD_BACKUP_RECIPIENTS))
    if not PlaceOfProcessing.objects.filter(code=PLACE).exists():
        raise BackupError(f"the register has no place of processing {PLACE!r} for backups: run `steward setup`")
    location = location or location_from_settings()
    env = postgres.source_env()
    version = postgres.server_version(env)
    postgres.same_major_or_refuse(version)
    taken_at = now or timezone.now()  # before pg_dump's snapshot: the replay starts from here
    found = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("id"))
    schools: list[dict[str, object]] = [{"id": s.id, "urn": s.urn, "name": s.name} for s in found]
    key = f"steward-{taken_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}.dump.age"
    with location.writer(key) as out, tempfile.TemporaryFile() as errors:
        hashing = crypto.HashingWriter(out)
        dump = subprocess.Popen(  # noqa: S603 - the wheel's pg_dump, fixed arguments  # nosec B603
            [str(postgres.bin_path("pg_dump")), "--format=custom", "--no-password"],
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            env=postgres.run_env(env),
        )
        assert dump.stdout is not None  # noqa: S101
        try:
            crypto.encrypt_stream(dump.stdout, hashing, to)
        except Exception as error:  # a full disk, a lost object store: the location removes what was written
            dump.kill()
            raise _write_failed(location, hashing.error or error) from error
        finally:
            dump.stdout.close()
            code = dump.wait()
        if code != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise BackupError(f"pg_dump failed (exit {code}): {lines[-1] if lines else 'no message'}")
    # The replay log and the attachment folder beside the dump, before the manifest that names them.
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
