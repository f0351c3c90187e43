"""Where backups are written: a `Location` names files by key; a folder, or an S3-compatible bucket (`s3`).

A file is written under a temporary name and given its key only once complete, flushed and synced,
so that a run killed part-way leaves a `.partial` file nobody mistakes for a backup (and the
`BackupCopy` is recorded only after that rename). The S3 location gets the same from a multipart
upload completed last.

`STEWARD_BACKUP_LOCATION` names the location: a folder path, or `s3://bucket/prefix` (with
`STEWARD_BACKUP_S3_ENDPOINT_URL` for a store other than AWS); unset, the folder `STEWARD_BACKUP_DIR`.
Each `BackupCopy` records the location's `uri` (its `store`) when it was made, so a restore, verify or
expiry of an old copy goes where the copy is even after the setting has changed (`location_for_store`).
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import parse_qs, urlsplit

from steward.retention.backups import BackupError

SUBFOLDERS = ("wal",)  # keys may name one of these folders: "wal/<segment>.gz.age" (the archived WAL)


class Location(Protocol):
    """A place backups are kept. An S3 implementation writes a multipart upload and completes it last."""

    description: str  # for messages: "folder /srv/backups", "object store s3://bucket/prefix at ..."
    uri: str  # what `BackupCopy.store` records, read back by `location_for_store`

    def writer(self, key: str) -> AbstractContextManager[IO[bytes]]: ...

    def reader(self, key: str) -> AbstractContextManager[IO[bytes]]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> builtins.list[str]: ...

    def clear_incomplete(self, before: dt.datetime) -> builtins.list[str]: ...


class FolderLocation:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"folder {folder}"
        self.uri = str(folder.absolute())

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if (
            len(parts) > 2
            or (len(parts) == 2 and parts[0] not in SUBFOLDERS)
            or any(not part or part.startswith(".") for part in parts)
        ):
            raise BackupError(f"not a backup file name: {key!r}")
        return self.folder / key

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        final = self._path(key)
        try:
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise BackupError(f"cannot make the backup folder {self.folder}: {error.strerror or error}") from error
        partial = final.with_name(final.name + ".partial")
        try:
            # Owner-only, though encrypted: who may copy backups is the processor's decision, not umask's.
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                yield out
                try:  # a full disk may show only here, when the last buffered bytes are written
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as error:
                    raise BackupError(f"cannot write the backup to {self.description}: {_why(error)}") from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextmanager
    def reader(self, key: str) -> Iterator[IO[bytes]]:
        try:
            with self._path(key).open("rb") as stream:
                yield stream
        except FileNotFoundError as error:
            raise BackupError(f"backup file {key} is not in {self.description}") from error

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> bool:
        """Remove the file; False if it was already gone (a deletion is then recorded all the same)."""
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise BackupError(f"cannot delete backup file {key} from {self.description}: {error}") from error
        return True

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Every complete file whose name starts with `prefix`, sorted (not `.partial` ones)."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name for p in self.folder.iterdir() if p.name.startswith(prefix) and not p.name.endswith(".partial")
        )

    def clear_incomplete(self, before: dt.datetime) -> builtins.list[str]:
        """Remove `.partial` files last written before `before` (left by a killed run); returns their names."""
        if not self.folder.is_dir():
            return []
        removed = []
        for path in sorted(self.folder.glob("*.partial")):
            if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < before:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed


def _why(error: OSError) -> str:
    return f"{error.strerror or error} (errno {error.errno})" if error.errno else str(error)


def parse_location(value: str, *, endpoint_url: str = "") -> Location:
    """A location from `STEWARD_BACKUP_LOCATION` or a copy's `store`: an absolute folder path (or
    `file:///path`), or `s3://bucket/prefix` (an `?endpoint_url=` in it, as `store` records, wins over
    the one given). Anything else is refused, naming the value."""
    value = value.strip()
    if value.startswith("s3://"):
        from steward.retention.backups.s3 import S3Location

        parts = urlsplit(value)
        if not parts.netloc:
            raise BackupError(f"backup location {value!r} names no bucket: use s3://bucket/prefix")
        query = parse_qs(parts.query)
        if set(query) - {"endpoint_url"} or parts.fragment:
            raise BackupError(f"backup location {value!r}: only ?endpoint_url= may follow s3://bucket/prefix")
        endpoint = query.get("endpoint_url", [endpoint_url])[0]
        check_endpoint(endpoint)
        return S3Location(parts.netloc, parts.path, endpoint_url=endpoint)
    if value.startswith("file://"):
        value = value.removeprefix("file://")
    elif "://" in value:
        raise BackupError(f"backup location {value!r}: not a folder path or s3://bucket/prefix")
    if not value.startswith("/"):
        raise BackupError(f"backup location {value!r}: a folder must be an absolute path, or use s3://bucket/prefix")
    return FolderLocation(Path(value))


def check_endpoint(endpoint: str) -> None:
    if endpoint and (urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc):
        raise BackupError(f"S3 endpoint {endpoint!r} is not an http(s):// URL (e.g. https://minio.example:9000)")


def location_from_settings() -> Location:
    """`STEWARD_BACKUP_LOCATION` when set, else the folder `STEWARD_BACKUP_DIR`."""
    from django.conf import settings

    chosen = str(getattr(settings, "STEWARD_BACKUP_LOCATION", "") or "").strip()
    if chosen:
        return parse_location(chosen, endpoint_url=str(getattr(settings, "STEWARD_BACKUP_S3_ENDPOINT_URL", "") or ""))
    return FolderLocation(Path(settings.STEWARD_BACKUP_DIR))


def location_for_store(store: str) -> Location:
    """Where a copy lives: its recorded `store`, or (a copy recorded before stores were) the setting's."""
    if not store:
        return location_from_settings()
    from django.conf import settings

    return parse_location(store, endpoint_url=str(getattr(settings, "STEWARD_BACKUP_S3_ENDPOINT_URL", "") or ""))
