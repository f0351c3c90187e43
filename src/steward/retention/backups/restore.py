"""`steward backup restore`: check, decrypt, `pg_restore`, replay what was erased since, then mark usable.

Order matters, and each step refuses before the next can do harm:
1. the encrypted file's SHA-256 must match the manifest's (and the `BackupCopy`'s): a damaged copy is
   refused before anything is written anywhere;
2. the key given must open the file's header (a wrong key is named as such, before any restore);
3. the target must be new: an empty data directory (a fresh cluster is made there) or a database
   with no tables; anything else is refused;
4. the database comment says "NOT USABLE" while the restore runs; `pg_restore` reads the decrypted
   stream from a pipe (nothing is held in memory or written in clear to disk);
5. the restored database is migrated to this Steward's schema, the live database's replay log entries
   made since the backup (and the `BackupCopy` itself) are copied in, and `steward backup replay` runs
   against the restored database in its own process (so every erasure, purge and retention deletion
   goes through the same code as on the live database, under the restored database's own row-level
   security);
6. only then is the comment (and, for a data directory, `steward-restore.json`) changed to usable.

Why the replay log comes from the live database: the restored copy holds only the entries made before
it was taken; the ones to apply again are, by definition, younger. When the live database is lost
too, the newest backup holds the youngest log there is; restoring an older one then needs the log from
a newer one (not done yet: see DESIGN.md "Backups").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from steward.core import embedded_db
from steward.core.database import APP_ROLE, app_role_password
from steward.retention.backups import BackupError, crypto, postgres
from steward.retention.backups.location import Location, location_from_settings
from steward.retention.backups.manifest import read_manifest
from steward.retention.models import BackupCopy, RestoreReplay
from steward.tenancy.scope import processor_scope

MARKER_FILE = "steward-restore.json"


@dataclass
class RestoreResult:
    backup_id: int
    database_url: str
    replayed: int = 0
    usable: bool = False
    cluster: postgres.Cluster | None = None
    app_password: str = ""
    notes: list[str] = field(default_factory=list)


def checked_file(copy: BackupCopy, location: Location) -> None:
    """Refuse a backup deleted past its period, or whose file does not hash to what was recorded when taken."""
    if copy.deleted_at is not None:
        raise BackupError(
            f"backup {copy.pk} was deleted on {copy.deleted_at:%Y-%m-%d %H:%M %Z}, past its retention period "
            f"(kept until {copy.kept_until:%Y-%m-%d}); nothing was restored"
        )
    manifest = read_manifest(location, copy.location)
    if copy.sha256 and manifest.sha256 != copy.sha256:
        raise BackupError(
            f"backup {copy.pk}: its manifest's SHA-256 ({manifest.sha256}) is not the one recorded when it was "
            f"taken ({copy.sha256}); nothing was restored"
        )
    with location.reader(copy.location) as stream:
        digest, size = crypto.sha256_of(stream)
    if digest != manifest.sha256 or size != manifest.size_bytes:
        raise BackupError(
            f"backup {copy.pk} ({copy.location}) is damaged: its SHA-256 is {digest} ({size} bytes), the manifest "
            f"says {manifest.sha256} ({manifest.size_bytes} bytes); nothing was restored"
        )


def backup_restore(
    *,
    copy: BackupCopy,
    identity_path: Path,
    target_dir: Path | None = None,
    database_url: str | None = None,
    location: Location | None = None,
    keep_running: bool = False,
    until: dt.datetime | None = None,
) -> RestoreResult:
    """Restore `copy`; a base backup (`kind` "base") to `until` or the end of the archived WAL (`pitr`)."""
    if (target_dir is None) == (database_url is None):
        raise BackupError("give exactly one target: --target-dir DIR (a new cluster) or --database-url URL")
    location = location or location_from_settings()
    if copy.kind == BackupCopy.Kind.BASE:
        from steward.retention.backups.pitr import restore_base

        return restore_base(
            copy=copy, identity_path=identity_path, target_dir=target_dir, location=location, until=until,
            keep_running=keep_running,
        )  # fmt: skip
    if until is not None:
        raise BackupError(
            f"backup {copy.pk} is a pg_dump copy: it restores only to the time it was taken "
            f"({copy.taken_at:%Y-%m-%d %H:%M:%S %Z}); --until needs a base backup with the WAL archived "
            f"(STEWARD_WAL_ARCHIVE=on, `steward backup create --kind base`); nothing was restored"
        )
    checked_file(copy, location)
    key = crypto.identity(identity_path)
    with location.reader(copy.location) as stream:
        crypto.check_identity_opens(stream, key, name=str(copy.pk))

    cluster: postgres.Cluster | None = None
    if target_dir is not None:
        cluster = postgres.Cluster(target_dir)
        cluster.init()
        cluster.start()
        env, url, app_password = cluster.env(), cluster.url(), cluster.app_password
    else:
        assert database_url is not None  # noqa: S101
        env, url, app_password = postgres.env_from_url(database_url), database_url, app_role_password()
        postgres.same_major_or_refuse(postgres.server_version(env))
    result = RestoreResult(copy.pk, url, cluster=cluster, app_password=app_password)
    try:
        _prepare(env, cluster, app_password)  # refuses a non-empty target, leaving it as it was
    except BaseException:
        if cluster is not None:
            cluster.stop()
        raise
    try:
        _mark(result, target_dir, env, usable=False, note="restore in progress")
        _pg_restore(copy, location, key, env)
    except BaseException as error:
        _mark(result, target_dir, env, usable=False, note=f"restore did not finish: {error}")
        if cluster is not None:
            cluster.stop()
        raise
    return finish_restore(copy, result, target_dir, env, keep_running=keep_running)


def finish_restore(
    copy: BackupCopy, result: RestoreResult, target_dir: Path | None, env: dict[str, str], *, keep_running: bool
) -> RestoreResult:
    """What every restore does once the backup's data is in (pg_restore's, or a base backup's recovery):
    migrate, copy the replay log in, replay it in the restored database's own process, mark it usable.
    Anything failing marks it NOT USABLE (and stops a cluster made for it)."""
    url, app_password, cluster = result.database_url, result.app_password, result.cluster
    try:
        _steward(["migrate", "--database", "owner", "--no-input", "-v", "0"], url, app_password)
        _copy_replay_log(copy, env)
        out = _steward(["backup", "replay", "--backup", str(copy.pk)], url, app_password)
        replayed = re.search(r"Re-applied (\d+) ", out)
        if replayed is None:
            raise BackupError(f"`steward backup replay` on the restored database did not say what it did: {out!r}")
        result.replayed = int(replayed.group(1))
        result.usable = True
        note = f"replayed {result.replayed} erasure(s) and purge(s)"
        if result.notes:
            note = f"{'; '.join(result.notes)}; {note}"
        _mark(result, target_dir, env, usable=True, note=note)
    except BaseException as error:
        _mark(result, target_dir, env, usable=False, note=f"restore did not finish: {error}")
        if cluster is not None:
            cluster.stop()
        raise
    if cluster is not None and not keep_running:
        cluster.stop()
    return result


def _prepare(env: dict[str, str], cluster: postgres.Cluster | None, app_password: str) -> None:
    """A new cluster gets the app role and an empty database; a server's database must be empty."""
    if cluster is not None:
        with postgres.connect(cluster.env("postgres")) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(app_password)
                )
            )
        cluster.create_database()
        return
    with postgres.connect(env) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
            "AND n.nspname NOT LIKE 'pg_temp%%'"
        ).fetchone()
        if row and row[0]:
            raise BackupError(
                f"database {env['PGDATABASE']} is not empty ({row[0]} relations): a backup is restored only into an "
                f"empty database, never over one; create a new database and restore into that"
            )
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(app_password)
                )
            )


def _pg_restore(copy: BackupCopy, location: Location, key: Any, env: dict[str, str]) -> None:
    with tempfile.TemporaryFile() as errors, location.reader(copy.location) as stream:
        proc = subprocess.Popen(  # noqa: S603 - the wheel's pg_restore, fixed arguments  # nosec B603
            [str(postgres.bin_path("pg_restore")), "--no-owner", "--exit-on-error", "--no-password",
             "--dbname", env["PGDATABASE"]],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=postgres.run_env(env),
        )  # fmt: skip
        assert proc.stdin is not None  # noqa: S101
        broken = False
        try:
            crypto.decrypt_stream(stream, proc.stdin, key, name=str(copy.pk))
        except BrokenPipeError:
            broken = True  # pg_restore stopped reading: its own message says why
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                broken = True
            code = proc.wait()
        if code != 0 or broken:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise BackupError(f"pg_restore failed (exit {code}): {lines[-1] if lines else 'no message'}")


def _copy_replay_log(copy: BackupCopy, env: dict[str, str]) -> None:
    """Copy the live database's replay entries since the backup (and the copy's own record) into the
    restored database. Entries of a school the backup does not hold are left out: none of its rows
    came back."""
    with processor_scope():
        entries = list(
            RestoreReplay.objects.filter(at__gte=copy.taken_at)
            .order_by("id")
            .values_list("id", "at", "kind", "school_id", "target", "source_ids")
        )
    with postgres.connect(env) as conn, conn.transaction():
        conn.execute("SELECT set_config('steward.processor_scope', 'on', true)")
        schools = {r[0] for r in conn.execute("SELECT id FROM tenancy_organisation").fetchall()}
        rows = [e for e in entries if e[3] is None or e[3] in schools]
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO retention_restorereplay (id, at, kind, school_id, target, source_ids) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                rows,
            )
            cursor.execute(
                "INSERT INTO retention_backupcopy (id, taken_at, kept_until, place, location, school_ids, sha256, "
                "size_bytes, pg_version, verified_at, verified_ok, verification, kind, wal_start) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [copy.pk, copy.taken_at, copy.kept_until, copy.place, copy.location, copy.school_ids, copy.sha256,
                 copy.size_bytes, copy.pg_version, Jsonb({}), copy.kind, copy.wal_start],
            )  # fmt: skip
            for table in ("retention_restorereplay", "retention_backupcopy"):
                cursor.execute(
                    sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))").format(
                        sql.Identifier(table)
                    ),
                    [table],
                )


def _steward(args: list[str], url: str, app_password: str) -> str:
    """Run a `steward` command against the restored database, in its own process: the same code as on
    the live database, its own connections and row-level security."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "STEWARD_DB_NAME"}
    env.update(DATABASE_URL=url, STEWARD_APP_DB_PASSWORD=app_password, STEWARD_CONN_MAX_AGE="0")
    result = subprocess.run(  # noqa: S603 - our own program, our arguments  # nosec B603
        [sys.executable, "-m", "steward", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(
            f"`steward {' '.join(args[:2])}` on the restored database failed: "
            f"{lines[-1] if lines else result.returncode}"
        )
    return result.stdout.strip()


def _mark(result: RestoreResult, target_dir: Path | None, env: dict[str, str], *, usable: bool, note: str) -> None:
    """Say on the restored database itself (and beside a data directory) whether it may be used."""
    state = "usable" if usable else "NOT USABLE"
    comment = (
        f"Steward restore of backup {result.backup_id}: {state} ({note}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)"
    )
    try:
        with postgres.connect(env) as conn:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(env["PGDATABASE"]), sql.Literal(comment))
            )
    except Exception as error:  # noqa: BLE001 - the marker file below still says so
        result.notes.append(f"could not comment on the database: {error}")
    if target_dir is not None and target_dir.exists():
        marker = target_dir / MARKER_FILE
        data = {
            "backup": result.backup_id,
            "usable": usable,
            "note": note,
            "database_url": result.database_url,
            "app_password": result.app_password,
            "replayed": result.replayed,
            "start": f"{postgres.bin_path('pg_ctl')} -D {target_dir} -l {target_dir}/restore-server.log start"
            + (f" (as user {embedded_db.SYSTEM_USER})" if os.geteuid() == 0 else ""),
        }
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)


def restore_marker(target_dir: Path) -> dict[str, Any]:
    """What `steward-restore.json` in a restored data directory says (usable or not, and why)."""
    data: dict[str, Any] = json.loads((target_dir / MARKER_FILE).read_text())
    return data
