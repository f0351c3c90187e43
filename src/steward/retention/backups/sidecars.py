"""What a backup needs beside its dump: the replay log and the service desk's attachment folder.

- `<stem>.replay.age`: the replay log (`retention_restorereplay`, `COPY ... TO STDOUT` streamed through
  age to the backup's recipients). When the live database is lost too, a restore of an older copy
  reads the entries made since it from the newest copy's sidecar (`steward-latest.json` in the
  location names it), instead of from the live database that is no longer there.
- `<stem>.attachments.age`: a tar of `STEWARD_ATTACHMENT_DIR` (the service desk's files live outside
  the database), streamed through age. The restore extracts only the files whose rows the restored
  database still has after its replay: a purged school's files, and those of tickets deleted since,
  do not come back.

Each sidecar's SHA-256 and size are in the copy's manifest (`sidecars`), checked before it is read.
Only the `Location` protocol's methods are used (`writer`, `reader`, `exists`, `delete`), so any
location holds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import psycopg

from steward.retention.backups import BackupError, crypto, postgres
from steward.retention.backups.location import Location

LATEST = "steward-latest.json"  # names the newest copy and its sidecars (plain JSON, no personal data)
REPLAY_COLUMNS = "id, at, kind, school_id, target, source_ids"


def stem(file_key: str) -> str:
    return file_key.removesuffix(".dump.age")


def replay_key(file_key: str) -> str:
    return f"{stem(file_key)}.replay.age"


def attachments_key(file_key: str) -> str:
    return f"{stem(file_key)}.attachments.age"


def sidecar_keys(file_key: str) -> list[str]:
    return [replay_key(file_key), attachments_key(file_key)]


# --- Writing, at `backup create` -------------------------------------------------------------------


class _CopyReader:
    """A readable file over psycopg's `COPY ... TO STDOUT`: age pulls the rows as it encrypts them."""

    def __init__(self, copy: psycopg.Copy) -> None:
        self.copy = copy

    def read(self, size: int = -1) -> bytes:
        return bytes(self.copy.read())


def _encrypted(location: Location, key: str, to: list[Any], source: IO[bytes] | _CopyReader) -> dict[str, Any]:
    with location.writer(key) as out:
        hashing = crypto.HashingWriter(out)
        try:
            crypto.encrypt_stream(source, hashing, to)  # type: ignore[arg-type]
        except OSError as error:
            raise BackupError(f"cannot write {key} to {location.description}: {error}") from error
    return {"file": key, "sha256": hashing.sha256.hexdigest(), "size_bytes": hashing.size}


def write_replay_log(location: Location, file_key: str, env: dict[str, str], to: list[Any]) -> dict[str, Any]:
    """The whole replay log, as the owner (row-level security hides nothing from it), streamed."""
    query = f"COPY (SELECT {REPLAY_COLUMNS} FROM retention_restorereplay ORDER BY id) TO STDOUT"  # noqa: S608  # nosec B608
    with postgres.connect(env) as conn, conn.cursor() as cursor:
        with cursor.copy(query) as copy:
            info = _encrypted(location, replay_key(file_key), to, _CopyReader(copy))
        info["entries"] = cursor.rowcount
    return info


def write_attachments(location: Location, file_key: str, folder: Path, to: list[Any]) -> dict[str, Any]:
    """A tar of the attachment folder's files (none when it does not exist yet), written by a thread
    into a pipe that age reads from: nothing is held in memory."""
    read_fd, write_fd = os.pipe()
    counted: list[int] = []
    failed: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
                names = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
                for path in names:
                    if path.name.startswith("."):  # an upload's temporary file, not an attachment
                        continue
                    tar.add(path, arcname=path.name, recursive=False)
                    counted.append(1)
        except BaseException as error:  # noqa: BLE001 - raised again by the caller's thread
            failed.append(error)

    thread = threading.Thread(target=produce, name="backup-attachments", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            info = _encrypted(location, attachments_key(file_key), to, pipe)
    finally:
        thread.join()
    if failed:
        raise BackupError(f"cannot read the attachment folder {folder}: {failed[0]}") from failed[0]
    info["files"] = len(counted)
    return info


def write_latest(location: Location, manifest_data: dict[str, Any]) -> None:
    """Point `steward-latest.json` at the copy just written (its manifest's fields, without schools)."""
    data = {k: v for k, v in manifest_data.items() if k != "schools"}
    with location.writer(LATEST) as out:
        out.write(json.dumps(data, indent=2, sort_keys=True).encode() + b"\n")


# --- Reading, at `backup restore` -------------------------------------------------------------------


@dataclass(frozen=True)
class Newest:
    file: str  # the newest copy's dump file key
    taken_at: str
    replay: dict[str, Any]


def newest_replay_log(location: Location) -> Newest:
    """The replay log of the newest copy the location holds (`steward-latest.json`)."""
    if not location.exists(LATEST):
        raise BackupError(
            f"{location.description} has no {LATEST}: no copy there carries a replay log (copies taken before "
            f"replay logs were written beside them); restore with --replay-log live"
        )
    with location.reader(LATEST) as stream:
        data = json.loads(stream.read())
    replay = (data.get("sidecars") or {}).get("replay")
    if not replay:
        raise BackupError(f"the newest copy {data.get('file')} has no replay log beside it; use --replay-log live")
    return Newest(file=str(data["file"]), taken_at=str(data["taken_at"]), replay=replay)


def check_sidecar(location: Location, info: dict[str, Any], key: Any) -> None:
    """Refuse a sidecar that does not hash to its manifest's record, or that the key cannot open."""
    with location.reader(info["file"]) as stream:
        digest, size = crypto.sha256_of(stream)
    if digest != info["sha256"] or size != info["size_bytes"]:
        raise BackupError(
            f"{info['file']} is damaged: its SHA-256 is {digest} ({size} bytes), the manifest says "
            f"{info['sha256']} ({info['size_bytes']} bytes); nothing was restored"
        )
    with location.reader(info["file"]) as stream:
        crypto.check_identity_opens(stream, key, name=info["file"])


class _Into:
    """A writable file over a callable (psycopg's `Copy.write`)."""

    def __init__(self, write: Callable[[bytes], Any]) -> None:
        self._write = write

    def write(self, data: bytes) -> int:
        self._write(data)
        return len(data)

    def flush(self) -> None:
        pass


def load_replay_log(location: Location, info: dict[str, Any], key: Any, conn: psycopg.Connection[Any]) -> None:
    """Decrypt the sidecar straight into `COPY steward_replay_in FROM STDIN` (a temporary table of
    the connection's transaction), for the restore to insert the entries it needs from there."""
    conn.execute(
        "CREATE TEMPORARY TABLE steward_replay_in (id bigint, at timestamptz, kind text, school_id bigint, "
        "target text, source_ids text[]) ON COMMIT DROP"
    )
    with (
        location.reader(info["file"]) as stream,
        conn.cursor() as cursor,
        cursor.copy(f"COPY steward_replay_in ({REPLAY_COLUMNS}) FROM STDIN") as copy,
    ):
        crypto.decrypt_stream(stream, _Into(copy.write), key, name=info["file"])  # type: ignore[arg-type]


# --- The attachment folder ----------------------------------------------------------------------------


def refuse_non_empty(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(
            f"--attachments-dir {folder} is not an empty folder: attachments are restored only into a new one"
        )


def _safe_member(member: tarfile.TarInfo) -> bool:
    """For a Python without `tarfile.data_filter` (3.11.2): a plain file of one name component."""
    name = PurePosixPath(member.name)
    return member.isreg() and not name.is_absolute() and len(name.parts) == 1 and name.name not in ("", ".", "..")


def extract_attachments(location: Location, info: dict[str, Any], key: Any, dest: Path, keep: set[str]) -> int:
    """Extract the files of `keep` (the storage keys the restored database still has) into `dest`.

    The tar comes from a pipe age decrypts into; only regular files named by one plain component are
    taken (checked here, and by `tarfile`'s data filter where this Python has it): no absolute path,
    no `..`, no link, no device. Anything else in the archive is refused, not skipped."""
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    extracted: list[str] = []
    failed: list[BaseException] = []

    def consume() -> None:
        try:
            with os.fdopen(read_fd, "rb") as pipe, tarfile.open(fileobj=pipe, mode="r|") as tar:
                for member in tar:
                    if not _safe_member(member):
                        raise BackupError(f"{info['file']} holds {member.name!r}, not a plain attachment file")
                    if member.name not in keep:
                        continue
                    member.mode = stat.S_IRUSR | stat.S_IWUSR
                    if hasattr(tarfile, "data_filter"):
                        tar.extract(member, dest, filter="data")
                    else:  # pragma: no cover - Python 3.11.2 (CI): checked by _safe_member above
                        tar.extract(member, dest)  # noqa: S202  # nosec B202
                    extracted.append(member.name)
        except BaseException as error:  # noqa: BLE001 - raised again by the caller's thread
            failed.append(error)  # leaving the `with` closed the pipe: the writer stops with EPIPE

    thread = threading.Thread(target=consume, name="restore-attachments", daemon=True)
    thread.start()
    try:
        pipe = os.fdopen(write_fd, "wb")
        try:
            with location.reader(info["file"]) as stream:
                crypto.decrypt_stream(stream, pipe, key, name=info["file"])
        except BrokenPipeError:
            pass  # the reader stopped (done, or refused a member: its error says why)
        finally:
            with contextlib.suppress(BrokenPipeError):
                pipe.close()
    finally:
        thread.join()
    if failed:
        error = failed[0]
        raise error if isinstance(error, BackupError) else BackupError(f"{info['file']}: {error}") from error
    return len(extracted)
