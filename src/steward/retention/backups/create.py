"""`steward backup create`: `pg_dump -Fc` of the whole database, streamed through age to a location.

Nothing is held in memory: pg_dump writes to a pipe, pyrage reads it in chunks and writes the
ciphertext through a hashing writer into the location's temporary file. Only when pg_dump exited
cleanly, the file is synced and renamed, its sidecars (the replay log, the attachment folder:
`sidecars.py`) written and its manifest written, is the `BackupCopy` recorded; a run killed at any
point before leaves at most a `.partial` file and no copy recorded as good.
"""

from __future__ import annotations

import datetime as dt
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
        except OSError as error:  # a full disk, a folder gone: the partial file is removed on the way out
            dump.kill()
            raise BackupError(f"cannot write the backup to {location.description}: {error}") from error
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
    write_manifest(location, manifest)
    sidecars.write_latest(location, manifest_data(manifest))
    return backup_record(
        taken_at=taken_at,
        place=PLACE,
        location=key,
        school_ids=[s.id for s in found],
        sha256=manifest.sha256,
        size_bytes=manifest.size_bytes,
        pg_version=version,
    )
