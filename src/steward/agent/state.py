"""What has been sent, keyed by the file's SHA-256, so that no file is ever sent twice.

The hash, not the name, is the key: the MIS may reuse names, and a rejected file that is
corrected gets a new hash and so is sent again, while the same bytes under a new name are not.
The file is rewritten whole after every send, through a temporary file and os.replace, so a
crash or power cut leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


class StateError(Exception):
    """The state file exists but cannot be used; sending without it could send files twice."""


@dataclass(frozen=True)
class Entry:
    """One file's outcome. status: "applied" (201, or 200 for a duplicate) or "rejected"."""

    sha256: str
    name: str
    status: str
    batch_id: str | None
    http_status: int
    sent_at: str
    duplicate: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class State:
    """The state file, loaded once per run and saved after every file it learns about."""

    def __init__(self, path: Path, entries: dict[str, Entry] | None = None) -> None:
        self.path = path
        self.entries: dict[str, Entry] = entries or {}

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: the state file cannot be read ({exc}); fix or move it aside") from None
        if not isinstance(raw, dict) or raw.get("version") != VERSION or not isinstance(raw.get("files"), dict):
            raise StateError(f"{path}: is not a steward-agent state file (version {VERSION})")
        try:
            entries = {sha: Entry(**{**entry, "sha256": sha}) for sha, entry in raw["files"].items()}
        except TypeError as exc:
            raise StateError(f"{path}: has an entry that cannot be read ({exc})") from None
        return cls(path, entries)

    def get(self, sha256: str) -> Entry | None:
        return self.entries.get(sha256)

    def record(self, entry: Entry) -> None:
        self.entries[entry.sha256] = entry
        self.save()

    def save(self) -> None:
        """Write atomically: a temporary file in the same folder, flushed to disk, then renamed over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": VERSION,
            "files": {sha: {k: v for k, v in asdict(e).items() if k != "sha256"} for sha, e in self.entries.items()},
        }
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if os.name == "posix":  # make the rename itself durable
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
