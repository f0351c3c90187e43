"""Where backups are written: a `Location` names files by key; today a folder, later an S3 bucket.

A file is written under a temporary name and given its key only once complete, flushed and synced,
so that a run killed part-way leaves a `.partial` file nobody mistakes for a backup (and the
`BackupCopy` is recorded only after that rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Protocol

from steward.retention.backups import BackupError

SUBFOLDERS = ("wal",)  # keys may name one of these folders: "wal/<segment>.gz.age" (the archived WAL)


class Location(Protocol):
    """A place backups are kept. An S3 implementation writes a multipart upload and completes it last."""

    description: str

    def writer(self, key: str) -> AbstractContextManager[IO[bytes]]: ...

    def reader(self, key: str) -> AbstractContextManager[IO[bytes]]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...


class FolderLocation:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"folder {folder}"

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
                out.flush()
                os.fsync(out.fileno())
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


def location_from_settings() -> FolderLocation:
    from django.conf import settings

    return FolderLocation(Path(settings.STEWARD_BACKUP_DIR))
