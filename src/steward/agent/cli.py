"""`steward-agent --config FILE [--once] [--dry-run] [-v]`: the entry point a service manager runs.

Exit codes (for cron jobs and monitoring): 0 everything waiting was sent (or had been),
1 Steward rejected a file, 2 the configuration, the state file or the credentials are wrong,
3 some files could not be sent now (Steward unreachable) and will be tried on the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from steward.agent import VERSION
from steward.agent.config import AgentConfig, ConfigError, load_config
from steward.agent.runner import EXIT_CONFIG, EXIT_OK, run_once
from steward.agent.schedule import describe, next_run
from steward.agent.state import StateError

log = logging.getLogger("steward.agent")

# Wake at least this often while waiting, so that a clock change or a suspended machine
# does not make the agent oversleep the scheduled time by much.
MAX_NAP_SECONDS = 60.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steward-agent",
        description="Send the MIS export files waiting in a folder to Steward, on a schedule.",
        epilog="Exit codes: 0 sent, 1 a file was rejected, 2 configuration or credentials, 3 not sent (will retry).",
    )
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML configuration file")
    parser.add_argument("--once", action="store_true", help="send what is waiting now, then exit")
    parser.add_argument("--dry-run", action="store_true", help="list what would be sent; send and record nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    parser.add_argument("--version", action="version", version=f"steward-agent {VERSION}")
    return parser


def _configure_logging(verbose: bool, log_file: Path | None) -> None:
    """Log lines to stderr (and the log file, if configured), under the `steward.agent` logger.

    Only our logger is configured, so that embedding the agent (e.g. in tests) keeps its own
    logging; httpx's per-request lines are shown only with -v.
    """
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in log.handlers[:]:
        log.removeHandler(handler)
        handler.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():  # asked twice: the operator does not want to wait for the current upload
            log.warning("%s received again: exiting now", signal.Signals(signum).name)
            raise SystemExit(128 + signum)
        log.info("%s received: finishing the current file, then stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)


def run_forever(config: AgentConfig, *, stop: threading.Event, dry_run: bool = False) -> int:
    """Sleep until each scheduled time, run, repeat; return when `stop` is set."""
    assert config.schedule is not None
    log.info(
        "steward-agent %s started: %s (%s), sending to %s",
        VERSION,
        describe(config.schedule),
        config.timezone,
        config.server,
    )
    while not stop.is_set():
        due = next_run(config.schedule, dt.datetime.now(dt.UTC), config.timezone)
        log.info("next run at %s", due.astimezone(config.timezone).isoformat(timespec="minutes"))
        while not stop.is_set():
            remaining = (due - dt.datetime.now(dt.UTC)).total_seconds()
            if remaining <= 0:
                break
            stop.wait(min(remaining, MAX_NAP_SECONDS))
        if stop.is_set():
            break
        try:
            report = run_once(config, dry_run=dry_run, stop=stop)
        except StateError as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
        if report.fatal:  # the credentials or the address are wrong: keep trying, the operator may fix them
            log.error("this run stopped early; the agent will try again at the next scheduled time")
    log.info("steward-agent stopped")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose, None)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIG
    try:
        _configure_logging(args.verbose, config.log_file)
    except OSError as exc:
        log.error("configuration error: %s: 'log_file' cannot be written: %s", config.source, exc.strerror)
        return EXIT_CONFIG
    if not args.once and config.schedule is None:
        log.error("configuration error: %s: 'schedule' is required unless --once is given", config.source)
        return EXIT_CONFIG
    stop = threading.Event()
    if args.once:
        try:
            return run_once(config, dry_run=args.dry_run, stop=stop).exit_code
        except StateError as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
    _install_signal_handlers(stop)
    return run_forever(config, stop=stop, dry_run=args.dry_run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
