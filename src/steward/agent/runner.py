"""One run: find the files waiting in each export folder and send them in name order.

Order matters for delta exports (a later delta assumes the earlier ones), so when a file
cannot be sent now (Steward unreachable) the rest of that folder waits for the next run too.
A rejected file does not hold the folder up: it is recorded, logged and skipped until it
changes, because blocking would stop all of the school's data over one bad record.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.agent.client import AuthError, GaveUp, ServerError, StewardClient, Stopped, UploadResult
from steward.agent.config import SUFFIX_FORMATS, AgentConfig, Folder
from steward.agent.state import Entry, State, now_iso

log = logging.getLogger("steward.agent")

EXIT_OK, EXIT_REJECTED, EXIT_CONFIG, EXIT_NOT_SENT = 0, 1, 2, 3
MAX_ERRORS_LOGGED = 5


@dataclass(frozen=True)
class Candidate:
    path: Path
    format: str
    mode: str


@dataclass
class RunReport:
    """What a run did, file names per outcome; `exit_code` is what `--once` exits with."""

    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # transient: tried again next run
    unsettled: list[str] = field(default_factory=list)  # still being written
    known: list[str] = field(default_factory=list)  # already in the state file
    would_send: list[str] = field(default_factory=list)  # --dry-run
    fatal: str | None = None
    stopped: bool = False

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return EXIT_CONFIG
        if self.rejected:
            return EXIT_REJECTED
        if self.failed:
            return EXIT_NOT_SENT
        return EXIT_OK


def _wanted(folder: Folder, path: Path) -> bool:
    if path.name.startswith((".", "~")):  # editors' and copiers' temporary files
        return False
    if folder.pattern is not None:
        return fnmatch.fnmatch(path.name, folder.pattern)
    return path.suffix.lower() in SUFFIX_FORMATS


def candidates(folder: Folder) -> Iterator[Candidate]:
    """The folder's files to consider, in name order (MIS exports are named by date)."""
    for path in sorted(folder.path.iterdir(), key=lambda p: p.name):
        if not path.is_file() or not _wanted(folder, path):
            continue
        fmt = folder.format or SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            log.warning("skipping %s: no format for the suffix %r; set 'format' for its folder", path, path.suffix)
            continue
        yield Candidate(path, fmt, folder.mode)


def _settled_bytes(path: Path, settle_seconds: float) -> bytes | None:
    """The file's bytes if it has not changed for settle_seconds (and did not while read)."""
    before = path.stat()
    if time.time() - before.st_mtime < settle_seconds:
        return None
    data = path.read_bytes()
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != after.st_size:
        return None
    return data


def _counts(counts: dict[str, Any]) -> str:
    parts = []
    for record_type, c in counts.items():
        if isinstance(c, dict):
            parts.append(
                f"{record_type} {c.get('inserted', 0)} new, {c.get('updated', 0)} changed, "
                f"{c.get('unchanged', 0)} unchanged, {c.get('deleted', 0)} deleted"
            )
    return "; ".join(parts) or "none"


def _log_result(name: str, sha256: str, result: UploadResult) -> None:
    if result.accepted:
        log.info(
            "sent %s sha256=%s batch=%s status=%s%s attempts=%d counts=[%s]",
            name,
            sha256,
            result.batch_id,
            result.status,
            " (duplicate: already applied)" if result.duplicate else "",
            result.attempts,
            _counts(result.counts),
        )
        return
    log.error(
        "rejected %s sha256=%s batch=%s http=%d: %s (it will not be sent again unless it changes)",
        name,
        sha256,
        result.batch_id,
        result.http_status,
        result.detail,
    )
    for error in result.errors[:MAX_ERRORS_LOGGED]:
        log.error(
            "  %s %s (source_id %s) field %s: %s",
            error.get("record_type"),
            error.get("ref"),
            error.get("source_id") or "-",
            error.get("field"),
            error.get("reason"),
        )
    if len(result.errors) > MAX_ERRORS_LOGGED:
        log.error("  ... and %d more errors", len(result.errors) - MAX_ERRORS_LOGGED)


class StateWriteError(Exception):
    """The state file cannot be written: carrying on could send files twice, so the run stops."""


def _record(state: State, entry: Entry) -> None:
    try:
        state.record(entry)
    except OSError as exc:
        raise StateWriteError(
            f"cannot write the state file {state.path} ({exc.strerror}); {entry.name} was {entry.status} as batch "
            f"{entry.batch_id} but is not recorded"
        ) from None


def _stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopped("stop requested while waiting to retry")

    return sleep


def run_once(
    config: AgentConfig,
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
) -> RunReport:
    """Send every settled, not yet sent file in each folder; never raises for a file's failure."""
    report = RunReport()
    state = State.load(config.state)
    stop = stop or threading.Event()
    client = StewardClient(
        server=config.server,
        client_id=config.client_id,
        client_secret=config.client_secret,
        retry=config.retry,
        timeout=config.timeout,
        ca_file=config.ca_file,
        sleep=sleep or _stoppable_sleep(stop),
    )
    with client:
        for folder in config.folders:
            try:
                _run_folder(folder, config, state, client, report, stop=stop, dry_run=dry_run)
            except (AuthError, ServerError, StateWriteError) as exc:
                log.error("%s", exc)
                report.fatal = str(exc)
                break
            except OSError as exc:  # the export folder is unmounted, deleted, or not readable
                log.error("cannot read the export folder %s: %s; its files wait for the next run", folder.path, exc)
                report.failed.append(str(folder.path))
            except Stopped:
                report.stopped = True
            if report.stopped:
                log.info("stopping as asked; the remaining files wait for the next run")
                break
    log.info(
        "run finished: %d sent, %d duplicates, %d rejected, %d not sent (will retry), %d still being written",
        len(report.sent),
        len(report.duplicates),
        len(report.rejected),
        len(report.failed),
        len(report.unsettled),
    )
    return report


def _run_folder(
    folder: Folder,
    config: AgentConfig,
    state: State,
    client: StewardClient,
    report: RunReport,
    *,
    stop: threading.Event,
    dry_run: bool,
) -> None:
    for candidate in candidates(folder):
        if stop.is_set():
            report.stopped = True
            return
        name = candidate.path.name
        try:
            data = _settled_bytes(candidate.path, config.settle_seconds)
        except OSError as exc:  # moved or deleted between listing and reading
            log.warning("skipping %s: %s", candidate.path, exc.strerror)
            continue
        if data is None:
            log.info(
                "waiting for %s: changed in the last %gs, the MIS may still be writing it", name, config.settle_seconds
            )
            report.unsettled.append(name)
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        known = state.get(sha256)
        if known is not None:
            log.debug("already sent %s (as %s, %s, batch %s)", name, known.name, known.status, known.batch_id)
            report.known.append(name)
            continue
        if dry_run:
            log.info("would send %s sha256=%s format=%s mode=%s", name, sha256, candidate.format, candidate.mode)
            report.would_send.append(name)
            continue
        try:
            result = client.upload(name=name, data=data, sha256=sha256, format=candidate.format, mode=candidate.mode)
        except GaveUp as exc:
            log.error(
                "not sent %s sha256=%s: %s; it and the later files of %s wait for the next run",
                name,
                sha256,
                exc,
                folder.path,
            )
            report.failed.append(name)
            return
        _log_result(name, sha256, result)
        _record(
            state,
            Entry(
                sha256=sha256,
                name=name,
                status=result.status,
                batch_id=result.batch_id,
                http_status=result.http_status,
                sent_at=now_iso(),
                duplicate=result.duplicate,
                counts=result.counts,
                errors=result.errors,
                detail=result.detail,
            ),
        )
        if not result.accepted:
            report.rejected.append(name)
        elif result.duplicate:
            report.duplicates.append(name)
        else:
            report.sent.append(name)
