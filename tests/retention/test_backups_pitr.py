"""Point-in-time restore drills: a real scratch cluster archiving its WAL (the same archive_command the
embedded server gets), a real `pg_basebackup`, real age encryption, the WAL shipped to the location,
and restores into fresh clusters: to a time (what came after is absent), and to the end of the WAL
(everything is back); in both, the pupil erased and the school purged since are gone again.

The scratch cluster stands in for the live server (the test session's own server does not archive,
and changing that needs a restart); the live database (the test's) holds the backup records and the
replay log, as in production. The clocks of WAL and replay log are both real: skipped under
STEWARD_TEST_TODAY, like the other tests that need the real clock.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.core import embedded_db
from steward.core.schedule import WAL_SHIP, due, wal_ship_entries
from steward.retention.backups import BackupError, wal
from steward.retention.backups.create import backup_create
from steward.retention.backups.expire import backup_expire
from steward.retention.backups.location import FolderLocation
from steward.retention.backups.postgres import Cluster
from steward.retention.backups.restore import _pg_restore, _prepare, backup_restore, restore_marker
from steward.retention.backups.verify import backup_verify
from steward.retention.models import BackupCopy
from steward.tenancy.models import Organisation
from tests.conftest import _TRAVEL_KEY
from tests.retention.test_backups import _erase, _purge, _school, backup_key, target  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("committed_db")


def _server_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:  # as root the server runs as its own user, which must reach it
        shutil.chown(path, user=embedded_db.SYSTEM_USER)
    return path


@pytest.fixture
def archiving(
    request: pytest.FixtureRequest,
    backup_key: Path,  # noqa: F811
    settings: SettingsWrapper,
) -> Iterator[dict[str, Any]]:
    """Two schools in the live database, copied (pg_dump, pg_restore) into a scratch cluster that
    archives its WAL into a spool folder, as the embedded server does with STEWARD_WAL_ARCHIVE=on."""
    if _TRAVEL_KEY in request.config.stash:
        pytest.skip("the WAL carries the server's real clock; STEWARD_TEST_TODAY moves only the test process")
    kept, leaving = _school("Kept Primary"), _school("Leaving Primary")
    dump = backup_create(kind="dump")
    home, spool = _server_dir("stw-pitr-src-"), _server_dir("stw-pitr-spool-")
    source = Cluster(home / "pg")
    source.init()
    settings.STEWARD_WAL_ARCHIVE, settings.STEWARD_WAL_SPOOL_DIR = True, spool
    embedded_db.write_archive_conf(source.datadir)  # what the embedded server gets before it starts
    source.start()
    try:
        _prepare(source.env(), source, source.app_password)
        from steward.retention.backups import crypto

        _pg_restore(dump, FolderLocation(Path(settings.STEWARD_BACKUP_DIR)), crypto.identity(backup_key), source.env())
        yield {"source": source, "spool": spool, "dump": dump, "kept": kept, "leaving": leaving, "key": backup_key}
    finally:
        source.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(spool, ignore_errors=True)


def _sql(env: dict[str, str], query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(
        host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"], autocommit=True,
    ) as conn:  # fmt: skip
        cursor = conn.execute(query)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _switch(source: Cluster, spool: Path) -> str:
    """Close the current segment and wait for the server to archive it into the spool. A WAL record
    first: a switch with nothing written since the last one closes no segment."""
    _sql(source.env(), "SELECT pg_logical_emit_message(false, 'steward-drill', 'x')")
    ((name,),) = _sql(source.env(), "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 30
    while not (spool / name).exists():
        assert time.monotonic() < deadline, f"the server did not archive {name} into {spool}"
        time.sleep(0.2)
    return str(name)


def _ship_all(source: Cluster, spool: Path, location: FolderLocation) -> wal.Shipped:
    _switch(source, spool)
    return wal.wal_ship(spool=spool, location=location, recipients=list(settings.STEWARD_BACKUP_RECIPIENTS))


def _learners(cluster: Cluster) -> list[tuple[Any, ...]]:
    return _sql(
        cluster.env(),
        "SELECT o.name, l.source_id, l.preferred_forename, l.preferred_surname FROM mis_learner l "
        "JOIN tenancy_organisation o ON o.id = l.school_id ORDER BY 1, 2",
    )


def test_a_base_backup_restores_to_a_chosen_time_and_to_the_end_of_the_wal(
    archiving: dict[str, Any],
    target: Path,  # noqa: F811
) -> None:
    source, spool, key = archiving["source"], archiving["spool"], archiving["key"]
    location = FolderLocation(Path(settings.STEWARD_BACKUP_DIR))
    base = backup_create(kind="base", source=source.env())
    assert base.kind == "base" and wal.SEGMENT.match(base.wal_start) and base.sha256
    assert b"PG_VERSION" not in (location.folder / base.location).read_bytes()  # encrypted, not a plain tar

    _sql(source.env(), "UPDATE mis_learner SET preferred_forename = 'Alpha' WHERE source_id = 'L1'")  # data A
    time.sleep(1.1)
    until = timezone.now()
    time.sleep(1.1)
    _sql(source.env(), "UPDATE mis_learner SET preferred_surname = 'Bravo' WHERE source_id = 'L1'")  # data B
    _erase(archiving["kept"], "L2")  # after the time chosen: the live database's replay log has them
    _purge(archiving["leaving"])
    shipped = _ship_all(source, spool, location)
    assert shipped.names and not [p for p in spool.iterdir() if wal.SHIPPABLE.match(p.name)]  # moved, not copied
    assert (location.folder / "wal" / f"{base.wal_start}.gz.age").exists()
    assert b"Alpha" not in b"".join(p.read_bytes() for p in (location.folder / "wal").glob("*.age"))

    to_time = backup_restore(copy=base, identity_path=key, target_dir=target, until=until, keep_running=True)
    assert to_time.usable and to_time.replayed >= 2 and to_time.cluster is not None
    # A is there, B is not; L2 (erased after the time, but in the data at that time) is erased again,
    # and the school purged since is gone again.
    assert _learners(to_time.cluster) == [("Kept Primary", "L1", "Alpha", "")]
    assert restore_marker(target)["usable"] is True and not (target / "steward-wal-restore").exists()
    to_time.cluster.stop()

    whole_dir = target.parent / "whole"
    whole = backup_restore(copy=base, identity_path=key, target_dir=whole_dir, keep_running=True)
    assert whole.cluster is not None
    try:
        assert _learners(whole.cluster) == [("Kept Primary", "L1", "Alpha", "Bravo")]  # A and B; L2, the school gone
        assert _sql(whole.cluster.env(), "SHOW archive_mode") == [("off",)]  # the restore does not archive
    finally:
        whole.cluster.stop()


def test_until_is_refused_on_a_dump_before_the_base_after_the_wal_and_across_a_gap(
    archiving: dict[str, Any],
    target: Path,  # noqa: F811
) -> None:
    source, spool, key = archiving["source"], archiving["spool"], archiving["key"]
    location = FolderLocation(Path(settings.STEWARD_BACKUP_DIR))
    with pytest.raises(CommandError, match=r"is a pg_dump copy: it restores only to the time it was taken"):
        call_command(
            "backup", "restore", "--backup", str(archiving["dump"].pk), "--identity", str(key),
            "--target-dir", str(target), "--until", "2026-12-01 10:00",
        )  # fmt: skip
    base = backup_create(kind="base", source=source.env())
    for n in range(3):  # three segments after the base backup's first
        _sql(source.env(), f"UPDATE mis_learner SET preferred_forename = 'Round {n}'")
        shipped = _ship_all(source, spool, location)
    name = _switch(source, spool)
    out = io.StringIO()
    call_command("backup", "wal-ship", stdout=out)  # as the scheduler runs it
    assert out.getvalue().strip() == f"Shipped 1 WAL file(s); the newest archived segment is {name}."
    shipped = wal.Shipped(newest=name)
    with pytest.raises(BackupError, match=r"is before backup \d+ was taken"):
        backup_restore(copy=base, identity_path=key, target_dir=target, until=base.taken_at - dt.timedelta(minutes=1))
    with pytest.raises(BackupError, match=rf"is after the newest archived WAL \(segment {shipped.newest}"):
        backup_restore(copy=base, identity_path=key, target_dir=target, until=timezone.now() + dt.timedelta(hours=1))
    gap = wal.segments(base.wal_start, shipped.newest)[1]
    (location.folder / "wal" / f"{gap}.gz.age").unlink()
    with pytest.raises(BackupError, match=rf"WAL segment {gap} is missing from folder .*nothing was restored"):
        backup_restore(copy=base, identity_path=key, target_dir=target)
    assert not target.exists()  # every refusal came before anything was written


def test_verify_restores_a_base_backup_with_its_wal_and_checks_it(archiving: dict[str, Any]) -> None:
    """The weekly verify takes whatever the nightly create wrote: with archiving on, a base backup."""
    source, spool, key = archiving["source"], archiving["spool"], archiving["key"]
    location = FolderLocation(Path(settings.STEWARD_BACKUP_DIR))
    base = backup_create(kind="base", source=source.env())
    _ship_all(source, spool, location)
    result = backup_verify(copy=base, identity_path=key, location=location)
    assert result["ok"] is True, result
    assert result["audit_chain"]["ok"] and result["tables_without_forced_rls"] == []
    assert set(result["rows_per_school"]) == {str(archiving["kept"].id), str(archiving["leaving"].id)}
    base.refresh_from_db()
    assert base.verified_ok is True


def test_expiry_deletes_the_wal_only_the_kept_base_backups_no_longer_need(
    archiving: dict[str, Any],
) -> None:
    source, spool = archiving["source"], archiving["spool"]
    location = FolderLocation(Path(settings.STEWARD_BACKUP_DIR))
    old = backup_create(kind="base", source=source.env())
    _ship_all(source, spool, location)
    _ship_all(source, spool, location)
    new = backup_create(kind="base", source=source.env())
    shipped = _ship_all(source, spool, location)
    BackupCopy.objects.filter(pk=old.pk).update(kept_until=old.taken_at + dt.timedelta(seconds=1))
    result = backup_expire(now=timezone.now(), location=location)
    assert [c.pk for c in result.deleted] == [old.pk]
    needed = wal.segments(new.wal_start, shipped.newest)
    older = wal.segments(old.wal_start, new.wal_start)[:-1]
    assert result.wal_deleted == len(older) > 0
    assert not [n for n in older if location.exists(wal.wal_key(n))]
    assert all(location.exists(wal.wal_key(n)) for n in needed)  # the kept base backup restores still


def test_wal_ship_is_scheduled_every_minute_only_while_archiving() -> None:
    assert wal_ship_entries(False) == []
    entries = wal_ship_entries(True)
    assert len(entries) == 24 * 60 and {e.task for e in entries} == {WAL_SHIP}
    any_minute = dt.datetime(2026, 6, 8, 13, 37, tzinfo=dt.UTC)
    assert [e.task for e in due(any_minute, entries)] == [WAL_SHIP]
    assert Organisation.objects.count() >= 0  # the live database is reachable (committed_db)


def test_the_archive_command_copies_atomically_and_refuses_a_path_it_cannot_quote(tmp_path: Path) -> None:
    conf = embedded_db.archive_conf(tmp_path / "spool")
    assert "archive_mode = on" in conf and "wal_level = replica" in conf and "archive_timeout = 60" in conf
    assert 'cp "%p" "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f"' in conf
    with pytest.raises(embedded_db.EmbeddedDatabaseError, match="choose a plain path"):
        embedded_db.archive_conf(tmp_path / "it's")
