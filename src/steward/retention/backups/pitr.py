"""Restore a base backup, then the archived WAL up to a chosen time (or all of it): point in time.

Order, each step refusing before the next can do harm:
1. the tar's SHA-256 and the key are checked by `restore.backup_restore` before it hands the copy over, as for a dump;
2. the archived WAL must reach from the base backup's first segment, without a gap, to the time asked
   (`--until` before the backup, or after the newest archived segment was finished, is refused);
3. the target must be a new, empty data directory (a physical backup restores a whole cluster; an
   existing server cannot take one, so `--database-url` is refused);
4. the tar is decrypted through a pipe and extracted member by member (nothing outside the target,
   no links: a cluster of one tablespace has none); the WAL segments are decrypted into a folder
   inside the target, which `restore_command` copies from (`cp`: the server's own user, who as root
   cannot read the key, needs nothing of ours), and which is removed once the server has promoted;
5. the server starts on loopback and a private socket, recovers to the time and promotes; the roles'
   passwords are then made new (the live server's are not carried into the restore);
6. then the same steps as a dump's restore (`restore.finish_restore`): migrate, copy the replay log,
   replay, mark usable. The log entries made since the base backup are all replayed: those before
   `--until` are already in the replayed WAL, and erasing again what is gone changes nothing.

Why stage the WAL instead of fetching each segment from the location in `restore_command`: the
command runs as the server's user, in the server's environment, once per segment. Staging costs
the disk of the WAL in clear (inside the target, beside the cluster's data in clear anyway) and no
key outside the restoring process.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

from steward.core import embedded_db
from steward.core.database import APP_ROLE
from steward.retention.backups import BackupError, crypto, postgres, wal
from steward.retention.backups.location import Location
from steward.retention.backups.manifest import read_manifest
from steward.retention.backups.restore import Afterwards, RestoreResult, _mark, finish_restore
from steward.retention.models import BackupCopy

STAGE = "steward-wal-restore"
PROMOTION_TIMEOUT_S = 600


def restore_base(
    *,
    copy: BackupCopy,
    target_dir: Path | None,
    location: Location,
    until: dt.datetime | None,
    keep_running: bool,
    after: Afterwards,
) -> RestoreResult:
    """The file and key were checked by `backup_restore`, which chose `after` (the replay log's source and
    the attachment folder) before anything was restored."""
    if target_dir is None:
        raise BackupError(
            f"backup {copy.pk} is a base backup (a whole cluster): restore it into a new data directory with "
            f"--target-dir DIR; an existing server cannot take it"
        )
    key = after.key
    manifest = read_manifest(location, copy.location)
    first = manifest.wal_start or copy.wal_start
    last, archived_at = wal.check_archived(location, first)
    if until is not None:
        if until.tzinfo is None:
            raise BackupError("--until needs a time zone (it is read in Steward's TIME_ZONE when given without one)")
        if until < copy.taken_at:
            raise BackupError(
                f"--until {until:%Y-%m-%d %H:%M:%S %Z} is before backup {copy.pk} was taken "
                f"({copy.taken_at:%Y-%m-%d %H:%M:%S %Z}): choose an older base backup; nothing was restored"
            )
        if until > archived_at:
            raise BackupError(
                f"--until {until:%Y-%m-%d %H:%M:%S %Z} is after the newest archived WAL (segment {last}, finished "
                f"{archived_at:%Y-%m-%d %H:%M:%S %Z}): the restore cannot reach it; nothing was restored"
            )
    if target_dir.exists() and any(target_dir.iterdir()):
        raise BackupError(f"{target_dir} is not empty: restore into a new (or empty) directory")
    target_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(target_dir, 0o700)
    cluster = postgres.Cluster(target_dir)
    database = manifest.database or postgres.DB_NAME
    env = cluster.env(database)
    result = RestoreResult(copy.pk, cluster.url(database), cluster=cluster, app_password=cluster.app_password)
    sockets = Path(tempfile.mkdtemp(prefix="stw-pitr-"))
    try:
        _extract(copy, location, key, target_dir)
        stage = target_dir / STAGE
        stage.mkdir(mode=0o700)
        for name in wal.segments(first, last):
            wal.fetch(location, name, key, stage / name)
        history = f"{first[:8]}.history"
        if location.exists(wal.wal_key(history)):
            wal.fetch(location, history, key, stage / history)
        _configure(target_dir, cluster.port, sockets, stage, until)
        if os.geteuid() == 0:  # as root the server runs as its own user, who must own its data directory
            embedded_db.ensure_system_user()
            for path in (sockets, target_dir, *target_dir.rglob("*")):
                shutil.chown(path, user=embedded_db.SYSTEM_USER)
        _recover(cluster, sockets)
        _new_passwords(cluster, sockets)
        shutil.rmtree(stage)
        with (target_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write("unix_socket_directories = ''\n")  # from the next start: loopback with passwords only
    except BaseException as error:
        cluster.stop()
        shutil.rmtree(sockets, ignore_errors=True)
        _mark(result, target_dir, env, usable=False, note=f"restore did not finish: {error}")
        raise
    when = f"to {until.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if until else f"to the end of the WAL ({last})"
    result.notes.append(f"recovered {when}")
    _mark(result, target_dir, env, usable=False, note="restore in progress")
    finished = finish_restore(copy, result, target_dir, env, after, keep_running=keep_running)
    if not keep_running:
        shutil.rmtree(sockets, ignore_errors=True)  # the server stopped; it left its socket folder empty
    return finished


def _member_safe(member: tarfile.TarInfo) -> bool:
    path = PurePosixPath(member.name)
    return not path.is_absolute() and ".." not in path.parts and (member.isreg() or member.isdir())


def _extract(copy: BackupCopy, location: Location, key: Any, target: Path) -> None:
    """Decrypt into a pipe in a thread; untar from it here, refusing anything that would land outside
    `target` or is not a plain file or folder (Python 3.11.2 has no tarfile `filter=`: checked here)."""
    read_fd, write_fd = os.pipe()
    failed: list[BaseException] = []

    def decrypt() -> None:
        with location.reader(copy.location) as stream, os.fdopen(write_fd, "wb") as out:
            try:
                crypto.decrypt_stream(stream, out, key, name=str(copy.pk))
            except BrokenPipeError:
                pass  # the untar stopped reading: its own error says why
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                failed.append(error)

    worker = threading.Thread(target=decrypt, daemon=True)
    worker.start()
    extra: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with os.fdopen(read_fd, "rb") as source, tarfile.open(fileobj=source, mode="r|") as tar:
            for member in tar:
                if not _member_safe(member):
                    raise BackupError(
                        f"backup {copy.pk} holds {member.name!r}, which is not a plain file or folder inside the "
                        f"data directory (a tablespace link?): not restored"
                    )
                tar.extract(member, target, set_attrs=member.isreg(), **extra)
    except tarfile.TarError as error:
        raise BackupError(f"backup {copy.pk} is not a readable base backup: {error}") from error
    finally:
        worker.join()
    if failed:
        raise failed[0]


def _configure(datadir: Path, port: int, sockets: Path, stage: Path, until: dt.datetime | None) -> None:
    lines = [
        "# Steward point-in-time restore",
        "listen_addresses = '127.0.0.1'",
        f"port = {port}",
        f"unix_socket_directories = '{sockets}'",
        "archive_mode = off",  # the live server's archiving must not carry into its restore
        f'restore_command = \'cp "{stage}/%f" "%p"\'',
        "recovery_target_action = 'promote'",
    ]
    if until is not None:
        lines.append(f"recovery_target_time = '{until.astimezone(dt.UTC).isoformat(sep=' ')}'")
    with (datadir / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n" + "\n".join(lines) + "\n")
    # Trust only on the private socket (0700, the server's user), while the restore sets new passwords.
    (datadir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    (datadir / "recovery.signal").write_text("")
    for leftover in ("postmaster.pid", "postmaster.opts"):
        (datadir / leftover).unlink(missing_ok=True)


def _socket_env(cluster: postgres.Cluster, sockets: Path) -> dict[str, str]:
    return {"PGHOST": str(sockets), "PGPORT": str(cluster.port), "PGUSER": "postgres", "PGDATABASE": "postgres"}


def _log_reason(datadir: Path) -> str:
    try:
        lines = (datadir / "restore-server.log").read_text(errors="replace").splitlines()
    except OSError:
        return "no server log"
    fatal = [line for line in lines if "FATAL" in line or "PANIC" in line]
    return (fatal or lines or ["no server log"])[-1]


def _recover(cluster: postgres.Cluster, sockets: Path) -> None:
    """Start the server on the restored data and wait until it has replayed the WAL and promoted."""
    try:
        cluster.start()
    except BackupError as error:
        raise BackupError(f"the restored server did not start: {_log_reason(cluster.datadir)}") from error
    deadline = time.monotonic() + PROMOTION_TIMEOUT_S
    while time.monotonic() < deadline:
        if embedded_db.running_pid(cluster.datadir) is None:
            raise BackupError(f"the restored server stopped during recovery: {_log_reason(cluster.datadir)}")
        try:
            with postgres.connect(_socket_env(cluster, sockets)) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and row[0] is False:
                return
        except Exception:  # noqa: BLE001, S110 - not accepting connections yet, or stopping: checked above  # nosec B110
            pass
        time.sleep(0.5)
    raise BackupError(f"the restored server did not finish recovery in {PROMOTION_TIMEOUT_S} s")


def _new_passwords(cluster: postgres.Cluster, sockets: Path) -> None:
    from psycopg import sql

    with postgres.connect(_socket_env(cluster, sockets)) as conn:
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(cluster.password)))
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
        if exists:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(cluster.app_password))
            )
