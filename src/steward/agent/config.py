"""The agent's TOML configuration, validated up front so that a typo fails at start, not at 01:30.

Every error names the file, the key and why it is wrong. Relative paths are taken relative to
the configuration file, so that a service manager's working directory does not matter.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from steward.agent.schedule import Schedule, ScheduleError, parse_schedule

log = logging.getLogger("steward.agent")

FORMATS = ("ctf", "csv-zip", "json", "ndjson")
MODES = ("full", "delta")
# The suffix decides the format unless a folder says otherwise.
SUFFIX_FORMATS = {".xml": "ctf", ".zip": "csv-zip", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}

_FOLDER_KEYS = {"watch", "pattern", "mode", "format"}
_TOP_KEYS = _FOLDER_KEYS | {
    "server",
    "client_id",
    "client_secret",
    "client_secret_file",
    "folders",
    "state",
    "schedule",
    "timezone",
    "settle_seconds",
    "log_file",
    "ca_file",
    "timeout",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "backoff_jitter",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Folder:
    """An export folder and how its files are sent (full or delta is a property of the export)."""

    path: Path
    pattern: str | None  # None: every file with a supported suffix
    mode: str
    format: str | None  # None: from the file's suffix


@dataclass(frozen=True)
class Retry:
    """Exponential backoff: attempt n waits min(max, base * 2**(n-1)), less up to `jitter` of it."""

    max_attempts: int = 5
    base: float = 2.0
    max: float = 300.0
    jitter: float = 0.5


@dataclass(frozen=True)
class AgentConfig:
    source: Path
    server: str
    client_id: str
    client_secret: str
    folders: tuple[Folder, ...]
    state: Path
    schedule: Schedule | None
    timezone: ZoneInfo
    settle_seconds: float
    log_file: Path | None
    ca_file: Path | None
    timeout: float
    retry: Retry

    def __repr__(self) -> str:  # never let the secret reach a log or a traceback
        return f"AgentConfig(source={str(self.source)!r}, server={self.server!r}, client_id={self.client_id!r})"


class _Reader:
    """Typed access to one TOML table, with errors that name the key."""

    def __init__(self, source: Path, table: dict[str, Any], where: str = "") -> None:
        self.source, self.table, self.where = source, table, where

    def error(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.source}: '{self.where}{key}' {why}")

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.error(key, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def number(self, key: str, default: float, *, minimum: float, maximum: float | None = None) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
            raise self.error(key, f"must be {bound}, not {value!r}")
        return float(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(key, default=default)
        if value is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def path(self, key: str, *, required: bool = False) -> Path | None:
        value = self.text(key, required=required)
        return None if value is None else (self.source.parent / Path(value).expanduser())


def _server(reader: _Reader) -> str:
    server = reader.text("server", required=True)
    assert server is not None
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise reader.error("server", f"must be an https:// URL such as https://steward.example.gov.uk, not {server!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise reader.error(
            "server", "must use https: the client secret and pupils' data would cross the network in clear"
        )
    return server.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _writable(path: Path) -> bool:
    """Whether `path` can be created or replaced: checked now, not after the first file is sent."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


def _secret(reader: _Reader) -> str:
    inline, file = reader.table.get("client_secret"), reader.table.get("client_secret_file")
    if (inline is None) == (file is None):
        raise reader.error("client_secret_file", "or 'client_secret' is required (exactly one of them)")
    if inline is not None:
        secret = reader.text("client_secret")
        log.warning("%s: 'client_secret' is in the configuration file; 'client_secret_file' is safer", reader.source)
        assert secret is not None
        return secret
    path = reader.path("client_secret_file")
    assert path is not None
    try:
        secret = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except OSError as exc:
        raise reader.error("client_secret_file", f"cannot be read: {exc.strerror} ({path})") from None
    if not secret:
        raise reader.error("client_secret_file", f"is empty ({path})")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s: the secret file %s can be read by other users; chmod 600 it", reader.source, path)
    return secret


def _folder(reader: _Reader) -> Folder:
    path = reader.path("watch", required=True)
    assert path is not None
    if not path.is_dir():
        raise reader.error("watch", f"must be an existing folder ({path})")
    return Folder(
        path=path,
        pattern=reader.text("pattern"),
        mode=reader.choice("mode", MODES, "delta") or "delta",
        format=reader.choice("format", FORMATS, None),
    )


def _folders(top: _Reader) -> tuple[Folder, ...]:
    folders = [_folder(top)] if "watch" in top.table else []
    tables = top.table.get("folders", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise top.error("folders", "must be an array of tables ([[folders]] with watch, pattern, mode, format)")
    for index, table in enumerate(tables):
        reader = _Reader(top.source, table, f"folders[{index}].")
        for key in table:
            if key not in _FOLDER_KEYS:
                raise reader.error(key, f"is not a folder setting (known: {', '.join(sorted(_FOLDER_KEYS))})")
        folders.append(_folder(reader))
    if not folders:
        raise top.error("watch", "is required (the folder the MIS exports to), or give [[folders]]")
    if "watch" not in top.table:
        for key in ("pattern", "mode", "format"):
            if key in top.table:
                raise top.error(key, "applies to 'watch'; with [[folders]] only, set it in each folder")
    return tuple(folders)


def load_config(path: str | os.PathLike[str]) -> AgentConfig:
    """Read and validate the agent's configuration file; raise ConfigError with a clear message."""
    source = Path(path).expanduser().absolute()
    try:
        with source.open("rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: is not valid TOML: {exc}") from None
    reader = _Reader(source, table)
    for key in table:
        if key not in _TOP_KEYS:
            raise reader.error(key, f"is not a setting (known: {', '.join(sorted(_TOP_KEYS))})")

    schedule_text = reader.text("schedule")
    try:
        schedule = parse_schedule(schedule_text) if schedule_text else None
    except ScheduleError as exc:
        raise reader.error("schedule", str(exc)) from None
    zone_name = reader.text("timezone", default="Europe/London")
    assert zone_name is not None
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error("timezone", f"is not a known time zone such as Europe/London, not {zone_name!r}") from None

    state = reader.path("state", required=True)
    assert state is not None
    if state.is_dir():
        raise reader.error("state", f"must be a file, not a folder ({state})")
    if not _writable(state):
        raise reader.error("state", f"must be in a folder this user can write to ({state.parent})")
    ca_file = reader.path("ca_file")
    if ca_file is not None and not ca_file.is_file():
        raise reader.error("ca_file", f"must be an existing file of PEM certificates ({ca_file})")

    base = reader.number("backoff_base", Retry.base, minimum=0.001)
    retry = Retry(
        max_attempts=int(reader.number("max_attempts", Retry.max_attempts, minimum=1, maximum=100)),
        base=base,
        max=reader.number("backoff_max", max(Retry.max, base), minimum=base),
        jitter=reader.number("backoff_jitter", Retry.jitter, minimum=0, maximum=1),
    )
    if "max_attempts" in table and not isinstance(table["max_attempts"], int):
        raise reader.error("max_attempts", f"must be a whole number, not {table['max_attempts']!r}")
    return AgentConfig(
        source=source,
        server=_server(reader),
        client_id=reader.text("client_id", required=True) or "",
        client_secret=_secret(reader),
        folders=_folders(reader),
        state=state,
        schedule=schedule,
        timezone=zone,
        settle_seconds=reader.number("settle_seconds", 30, minimum=0),
        log_file=reader.path("log_file"),
        ca_file=ca_file,
        timeout=reader.number("timeout", 120, minimum=1),
        retry=retry,
    )
