"""The archived WAL: what lets a base backup be restored to a chosen time.

Two steps, so that PostgreSQL's `archive_command` never waits on a network or on encryption: the
server copies each finished segment into a local spool folder (`steward.core.embedded_db.archive_conf`:
temporary name, fsync, rename, all in `cp`/`sync`/`mv`), and `steward backup wal-ship` (every minute)
compresses and age-encrypts each spooled file to the backup recipients, puts it into the location as
`wal/<name>.gz.age`, and only then removes it from the spool. A segment forced out by
`archive_timeout` is mostly zeros: gzip makes it small.

The location is read and written only through the `Location` protocol (exists, reader, writer,
delete: no listing), so a pointer `wal/newest.json` records the newest segment shipped and when the
server finished it; segment names are consecutive within a timeline, so a restore (and the expiry)
walks the names from a base backup's first segment to the newest and finds any gap by name.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage  # type: ignore[import-untyped]

from steward.retention.backups import BackupError, crypto
from steward.retention.backups.location import Location

NEWEST = "wal/newest.json"
SEGMENTS_PER_ID = 0x100000000 // (16 * 1024 * 1024)  # the default 16 MB segments (base backups refuse others)
SEGMENT = re.compile(r"^[0-9A-F]{24}$")
SHIPPABLE = re.compile(r"^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$|^[0-9A-F]{8}\.history$")


def wal_key(name: str) -> str:
    return f"wal/{name}.gz.age"


def next_segment(name: str) -> str:
    timeline, log, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:], 16) + 1
    if seg == SEGMENTS_PER_ID:
        log, seg = log + 1, 0
    return f"{timeline:08X}{log:08X}{seg:08X}"


def segments(first: str, last: str) -> list[str]:
    """Every segment name from `first` to `last` inclusive, on `first`'s timeline."""
    names: list[str] = []
    name = first
    while name[8:] <= last[8:]:
        names.append(name)
        name = next_segment(name)
    return names


@dataclass
class Shipped:
    names: list[str] = field(default_factory=list)
    newest: str = ""


def read_newest(location: Location) -> dict[str, Any]:
    """The pointer to the newest shipped segment ({} when nothing was shipped yet)."""
    if not location.exists(NEWEST):
        return {}
    with location.reader(NEWEST) as stream:
        data: dict[str, Any] = json.loads(stream.read())
    return data


def wal_ship(*, spool: Path, location: Location, recipients: list[str]) -> Shipped:
    """Encrypt each spooled WAL file to the location, oldest first; remove it from the spool once it is there.

    A run killed part-way leaves the file in the spool (shipped again next time: the same key is
    written again) and never a file in the location that is not whole (the location's writer)."""
    to = crypto.recipients(recipients)
    result = Shipped()
    if not spool.exists():
        return result
    names = sorted(p.name for p in spool.iterdir() if SHIPPABLE.match(p.name))
    newest = read_newest(location)
    for name in names:
        path = spool / name
        try:
            data = path.read_bytes()
            finished = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except OSError as error:
            raise BackupError(f"cannot read the spooled WAL file {path}: {error.strerror or error}") from error
        try:
            with location.writer(wal_key(name)) as out:
                out.write(pyrage.encrypt(gzip.compress(data, compresslevel=1), to))
        except OSError as error:
            raise BackupError(f"cannot write WAL file {name} to {location.description}: {error}") from error
        if SEGMENT.match(name) and name > newest.get("segment", ""):
            newest = {"segment": name, "archived_at": finished.isoformat()}
            with location.writer(NEWEST) as out:
                out.write(json.dumps(newest).encode())
        path.unlink()
        result.names.append(name)
    result.newest = newest.get("segment", "")
    return result


def check_archived(location: Location, first: str) -> tuple[str, dt.datetime]:
    """The newest segment shipped and the time the server finished it; refuses a gap from `first` on,
    naming the first missing segment (a restore past it would stop there without saying so)."""
    newest = read_newest(location)
    last = str(newest.get("segment", ""))
    if not last or last[:8] != first[:8] or last[8:] < first[8:]:
        raise BackupError(
            f"no archived WAL from segment {first} on in {location.description}: is STEWARD_WAL_ARCHIVE on and "
            f"`steward backup wal-ship` running? A base backup cannot be restored without the WAL after it"
        )
    for name in segments(first, last):
        if not location.exists(wal_key(name)):
            raise BackupError(
                f"WAL segment {name} is missing from {location.description} (the archive reaches {last}): the "
                f"restore cannot replay past the gap; nothing was restored"
            )
    return last, dt.datetime.fromisoformat(newest["archived_at"])


def fetch(location: Location, name: str, key: Any, into: Path) -> None:
    """Decrypt and decompress one archived WAL file into `into` (a file the server then copies)."""
    with location.reader(wal_key(name)) as stream:
        encrypted = stream.read()
    try:
        data = gzip.decompress(pyrage.decrypt(encrypted, [key]))
    except (pyrage.DecryptError, OSError, EOFError) as error:
        raise BackupError(f"WAL file {name} cannot be decrypted with the key given, or is damaged: {error}") from error
    fd = os.open(into, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def wal_expire(location: Location, *, first: str, before: str) -> int:
    """Delete the archived segments from `first` up to (not including) `before`; the number deleted."""
    if not first or not before or first[:8] != before[:8] or first[8:] >= before[8:]:
        return 0
    gone = 0
    for name in segments(first, before)[:-1]:
        gone += location.delete(wal_key(name))
    return gone
