"""The manifest written beside each backup file: what it holds and how to check it, in plain JSON.

It is not encrypted (it holds no personal data: ids and URNs of schools, times, sizes), so that an
operator can see what a file is, and the restore can check the file's SHA-256, without the key.
The manifest is itself written under a temporary name and renamed last: a backup file without one
is an interrupted run.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from steward.retention.backups import BackupError
from steward.retention.backups.location import Location

FORMAT = "steward-backup/1"


@dataclass(frozen=True)
class Manifest:
    file: str
    taken_at: str  # ISO 8601, UTC: before pg_dump took its snapshot, so the replay starts no later
    pg_version: str
    schools: list[dict[str, Any]]  # {"id": ..., "urn": ..., "name": ...}
    size_bytes: int
    sha256: str
    kind: str = "dump"  # or "base": pg_basebackup's tar, restored with the archived WAL to a chosen time
    wal_start: str = ""  # a base backup's first WAL segment (from before its checkpoint: never too late)
    start_lsn: str = ""
    database: str = ""  # the database a base backup's restore serves (the cluster holds every database)
    encryption: str = "age (X25519 recipients)"
    dump_format: str = "pg_dump custom (-Fc)"
    format: str = FORMAT
    # The files beside the dump (`sidecars.py`): "replay" and "attachments", each {file, sha256, size_bytes, ...}
    sidecars: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def taken(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.taken_at)


def manifest_key(file_key: str) -> str:
    return f"{file_key}.manifest.json"


def write_manifest(location: Location, manifest: Manifest) -> None:
    with location.writer(manifest_key(manifest.file)) as out:
        out.write(json.dumps(asdict(manifest), indent=2, sort_keys=True).encode() + b"\n")


def manifest_data(manifest: Manifest) -> dict[str, Any]:
    return asdict(manifest)


def read_manifest(location: Location, file_key: str) -> Manifest:
    with location.reader(manifest_key(file_key)) as stream:
        raw = stream.read()
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
        return Manifest(**data)
    except (ValueError, TypeError) as error:
        raise BackupError(f"the manifest of backup {file_key} is not readable: {error}") from error
