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
too, the newest backup holds the youngest log there is: every copy has its replay log beside it
(`sidecars.py`), and `--replay-log location` (or `auto`, when the live database does not answer)
reads the entries from the newest copy's. The service desk's attachment folder is beside it too, and
`--attachments-dir` restores the files whose rows the restored database still has after its replay.
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
from steward.core.readiness import restore_comment
from steward.retention.backups import BackupError, crypto, postgres, sidecars
from steward.retention.backups.location import Location, location_for_store
from steward.retention.backups.manifest import Manifest, read_manifest
from steward.retention.models import BackupCopy, RestoreReplay
from steward.tenancy.scope import processor_scope

MARKER_FILE = "steward-restore.json"
REPLAY_LOGS = ("auto", "live", "location")


@dataclass(frozen=True)
class ReplaySource:
    """Where the entries to replay come from: the live database, or the newest copy's sidecar."""

    newest: sidecars.Newest | None = None

    def describe(self) -> str:
        if self.newest is None:
            return "the live database"
        return f"the replay log beside the newest copy, {self.newest.replay['file']} (taken {self.newest.taken_at})"


@dataclass
class RestoreResult:
    backup_id: int
    database_url: str
    replayed: int = 0
    usable: bool = False
    cluster: postgres.Cluster | None = None
    app_password: str = ""
    notes: list[str] = field(default_factory=list)
    replay_log: str = ""  # where the replayed entries came from, in words
    attachments: int | None = None  # attachment files restored (None: not asked for)


def checked_file(copy: BackupCopy, location: Location) -> Manifest:
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
    return manifest


def _live_answers() -> bool:
    """Does the live database answer? (`--replay-log auto` reads the log from it when it does.)"""
    from django.db import DatabaseError, connections

    try:
        with processor_scope():
            RestoreReplay.objects.exists()
    except (DatabaseError, embedded_db.EmbeddedDatabaseError):  # a server gone, or an embedded one that will not start
        connections["default"].close()
        return False
    return True


def replay_source(copy: BackupCopy, location: Location, key: Any, replay_log: str) -> ReplaySource:
    """Choose (and check, before anything is restored) where the entries to replay come from."""
    if replay_log not in REPLAY_LOGS:
        raise BackupError(f"--replay-log must be one of {', '.join(REPLAY_LOGS)}, not {replay_log!r}")
    if replay_log == "live" or (replay_log == "auto" and _live_answers()):
        return ReplaySource()
    newest = sidecars.newest_replay_log(location)
    if dt.datetime.fromisoformat(newest.taken_at) < copy.taken_at:
        raise BackupError(
            f"the newest replay log in {location.description} ({newest.replay['file']}, taken {newest.taken_at}) is "
            f"older than backup {copy.pk} (taken {copy.taken_at.isoformat()}); it cannot say what was erased since"
        )
    sidecars.check_sidecar(location, newest.replay, key)
    return ReplaySource(newest=newest)


def attachments_sidecar(manifest: Manifest, location: Location, key: Any, folder: Path) -> dict[str, Any]:
    """The copy's attachment folder sidecar, checked, and the folder to restore it into, empty."""
    info = manifest.sidecars.get("attachments")
    if not info:
        raise BackupError(f"backup {manifest.file} has no attachment folder beside it (taken before they were)")
    sidecars.refuse_non_empty(folder)
    sidecars.check_sidecar(location, info, key)
    return info


@dataclass
class Afterwards:
    """What a restore does once the data is in, whichever way it came (pg_restore, or a base backup's
    recovery): where the erasures to replay come from, and the attachment folder to restore, if asked."""

    source: ReplaySource
    location: Location
    key: Any
    files: dict[str, Any] | None = None
    attachments_dir: Path | None = None


def backup_restore(
    *,
    copy: BackupCopy,
    identity_path: Path,
    target_dir: Path | None = None,
    database_url: str | None = None,
    location: Location | None = None,
    keep_running: bool = False,
    replay_log: str = "auto",
    attachments_dir: Path | None = None,
    until: dt.datetime | None = None,
) -> RestoreResult:
    """Restore `copy`; a base backup (`kind` "base") to `until` or the end of the archived WAL (`pitr`)."""
    if (target_dir is None) == (database_url is None):
        raise BackupError("give exactly one target: --target-dir DIR (a new cluster) or --database-url URL")
    location = location or location_for_store(copy.store)
    if copy.kind != BackupCopy.Kind.BASE and until is not None:
        raise BackupError(
            f"backup {copy.pk} is a pg_dump copy: it restores only to the time it was taken "
            f"({copy.taken_at:%Y-%m-%d %H:%M:%S %Z}); --until needs a base backup with the WAL archived "
            f"(STEWARD_WAL_ARCHIVE=on, `steward backup create --kind base`); nothing was restored"
        )
    manifest = checked_file(copy, location)
    key = crypto.identity(identity_path)
    with location.reader(copy.location) as stream:
        crypto.check_identity_opens(stream, key, name=str(copy.pk))
    source = replay_source(copy, location, key, replay_log)
    files = attachments_sidecar(manifest, location, key, attachments_dir) if attachments_dir else None
    after = Afterwards(source, location, key, files, attachments_dir)
    if copy.kind == BackupCopy.Kind.BASE:
        from steward.retention.backups.pitr import restore_base

        return restore_base(
            copy=copy, target_dir=target_dir, location=location, until=until,
            keep_running=keep_running, after=after,
        )  # fmt: skip

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
    result = RestoreResult(copy.pk, url, cluster=cluster, app_password=app_password, replay_log=source.describe())
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
    return finish_restore(copy, result, target_dir, env, after, keep_running=keep_running)


def finish_restore(
    copy: BackupCopy,
    result: RestoreResult,
    target_dir: Path | None,
    env: dict[str, str],
    after: Afterwards,
    *,
    keep_running: bool,
) -> RestoreResult:
    """What every restore does once the backup's data is in (pg_restore's, or a base backup's recovery):
    migrate, copy the replay log in, replay it in the restored database's own process, restore the
    attachment folder if asked, mark it usable. Anything failing marks it NOT USABLE (and stops a cluster
    made for it)."""
    url, app_password, cluster = result.database_url, result.app_password, result.cluster
    result.replay_log = after.source.describe()
    try:
        # --skip-checks: the database is marked NOT USABLE until the replay finished (core.E001 says so)
        _steward(["migrate", "--database", "owner", "--no-input", "-v", "0", "--skip-checks"], url, app_password)
        _copy_replay_log(copy, env, after.source, after.location, after.key)
        with tempfile.TemporaryDirectory() as no_files:  # the replay never touches the live attachment folder
            out = _steward(["backup", "replay", "--backup", str(copy.pk)], url, app_password,
                           extra={"STEWARD_ATTACHMENT_DIR": no_files})  # fmt: skip
        replayed = re.search(r"Re-applied (\d+) ", out)
        if replayed is None:
            raise BackupError(f"`steward backup replay` on the restored database did not say what it did: {out!r}")
        result.replayed = int(replayed.group(1))
        if after.files is not None and after.attachments_dir is not None:
            result.attachments = sidecars.extract_attachments(
                after.location, after.files, after.key, after.attachments_dir, _attachment_keys(env)
            )
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


def _copy_replay_log(copy: BackupCopy, env: dict[str, str], source: ReplaySource, location: Location, key: Any) -> None:
    """Copy the replay entries since the backup (from the live database, or from the newest copy's
    replay log) and the copy's own record into the restored database. Entries of a school the backup
    does not hold are left out: none of its rows came back."""
    entries: list[Any] = []
    if source.newest is None:
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
            if source.newest is not None:
                sidecars.load_replay_log(location, source.newest.replay, key, conn)
                cursor.execute(
                    f"INSERT INTO retention_restorereplay ({sidecars.REPLAY_COLUMNS}) "  # noqa: S608  # nosec B608
                    f"SELECT {sidecars.REPLAY_COLUMNS} FROM steward_replay_in WHERE at >= %s "
                    "AND (school_id IS NULL OR school_id = ANY(%s)) ON CONFLICT (id) DO NOTHING",
                    [copy.taken_at, sorted(schools)],
                )
            cursor.execute(
                "INSERT INTO retention_backupcopy (id, taken_at, kept_until, place, location, store, school_ids, "
                "sha256, size_bytes, pg_version, verified_at, verified_ok, verification, kind, wal_start) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [copy.pk, copy.taken_at, copy.kept_until, copy.place, copy.location, copy.store, copy.school_ids,
                 copy.sha256, copy.size_bytes, copy.pg_version, Jsonb({}), copy.kind, copy.wal_start],
            )  # fmt: skip
            for table in ("retention_restorereplay", "retention_backupcopy"):
                cursor.execute(
                    sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {}))").format(
                        sql.Identifier(table)
                    ),
                    [table],
                )


def _attachment_keys(env: dict[str, str]) -> set[str]:
    """The storage keys of the attachments the restored database holds after its replay: a purged
    school's, or a deleted ticket's, are not among them, so their files are not restored."""
    with postgres.connect(env) as conn, conn.transaction():
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM tenancy_organisation").fetchall()]
        conn.execute("SELECT set_config('steward.school_ids', %s, true)", [",".join(ids)])
        return {r[0] for r in conn.execute("SELECT storage_key FROM servicedesk_ticketattachment").fetchall()}


def _steward(args: list[str], url: str, app_password: str, extra: dict[str, str] | None = None) -> str:
    """Run a `steward` command against the restored database, in its own process: the same code as on
    the live database, its own connections and row-level security."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "STEWARD_DB_NAME"}
    env.update(DATABASE_URL=url, STEWARD_APP_DB_PASSWORD=app_password, STEWARD_CONN_MAX_AGE="0", **(extra or {}))
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
    comment = restore_comment(result.backup_id, usable=usable, note=note, at=dt.datetime.now(dt.UTC))
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
            "replay_log": result.replay_log,
            "start": f"{postgres.bin_path('pg_ctl')} -D {target_dir} -l {target_dir}/restore-server.log start"
            + (f" (as user {embedded_db.SYSTEM_USER})" if os.geteuid() == 0 else ""),
        }
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)


def mark_usable_by_hand(backup_id: int, replayed: int) -> None:
    """`steward backup replay --mark-usable`: the replay a restore did not finish has now run, so the
    database (Django's owner connection: commenting needs the owner) says usable. A data directory's
    `steward-restore.json` is the operator's to update."""
    from django.db import connections

    note = f"replayed {replayed} erasure(s) and purge(s) by hand"
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT current_database()")
        row = cursor.fetchone()
        assert row is not None  # noqa: S101
        comment = restore_comment(backup_id, usable=True, note=note, at=dt.datetime.now(dt.UTC))
        cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(row[0]), sql.Literal(comment)))


def restore_marker(target_dir: Path) -> dict[str, Any]:
    """What `steward-restore.json` in a restored data directory says (usable or not, and why)."""
    data: dict[str, Any] = json.loads((target_dir / MARKER_FILE).read_text())
    return data
