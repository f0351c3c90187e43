"""Backup retention: copies past the register's period are deleted from the folder with a proof,
a copy holding a school under a whole-school legal hold is kept until the hold is lifted, and a
terminated school's certificate says when the last backup holding it is destroyed.

Real files in a real folder location (what `steward backup create` writes: the file and its manifest);
the copies are recorded through `backup_record`, as `backup create` does, at dates set by time-machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import time_machine
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.models import AuditEvent
from steward.core.schedule import SCHEDULE, due
from steward.retention.backups import BackupError
from steward.retention.backups.expire import backup_expire
from steward.retention.backups.manifest import manifest_key
from steward.retention.backups.restore import backup_restore
from steward.retention.backups.sidecars import sidecar_keys
from steward.retention.models import BackupCopy, RestoreReplay
from steward.retention.services import BACKUP_LONGEST_KEPT, backup_record, hold_lift, hold_place, replay_prune
from steward.retention.tasks import backup_expire_task
from steward.retention.termination import certificate_text, termination_purge, termination_start
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import processor_scope
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2033, 3, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def folder(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    settings.STEWARD_TERMINATION_DIR = tmp_path / "terminations"
    (tmp_path / "backups").mkdir()
    return tmp_path / "backups"


def _copy(folder: Path, *, taken_at: dt.datetime, schools: list[Organisation]) -> BackupCopy:
    key = f"steward-{taken_at:%Y%m%dT%H%M%S}Z.dump.age"
    body = f"ciphertext of {key}".encode()
    (folder / key).write_bytes(body)
    (folder / manifest_key(key)).write_text("{}\n")
    for sidecar in sidecar_keys(key):  # the replay log and the attachment folder beside it
        (folder / sidecar).write_bytes(b"ciphertext")
    return backup_record(
        taken_at=taken_at,
        place="uk-backup",
        location=key,
        school_ids=[s.id for s in schools],
        sha256=hashlib.sha256(body).hexdigest(),
        size_bytes=len(body),
    )


def test_a_copy_one_day_past_the_period_is_deleted_with_a_proof_one_day_short_is_kept(folder: Path) -> None:
    school = factories.school("Expiring Primary")
    past = _copy(folder, taken_at=NOW - BACKUP_LONGEST_KEPT - DAY, schools=[school])
    short = _copy(folder, taken_at=NOW - BACKUP_LONGEST_KEPT + DAY, schools=[school])

    with time_machine.travel(NOW, tick=False):
        result = backup_expire(now=NOW)

    assert [c.pk for c in result.deleted] == [past.pk] and result.held == {}
    assert not (folder / past.location).exists() and not (folder / manifest_key(past.location)).exists()
    assert (folder / short.location).exists() and (folder / manifest_key(short.location)).exists()
    assert not any((folder / k).exists() for k in sidecar_keys(past.location))  # deleted with their copy
    assert all((folder / k).exists() for k in sidecar_keys(short.location))
    past.refresh_from_db()
    short.refresh_from_db()
    assert past.deleted_at == NOW and short.deleted_at is None  # the row stays: the deletion's record
    with processor_scope():  # an event of no school: the processor's to read
        event = AuditEvent.objects.get(action="backup_deleted")
    assert event.object_ids == [str(past.pk)]
    assert event.detail["sha256"] == past.sha256 and event.detail["location"] == past.location
    assert event.detail["file_found"] is True and event.occurred_at == NOW

    later = NOW + DAY - dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):  # nothing more until the other's period is over
        assert backup_expire(now=later).deleted == []
    with time_machine.travel(NOW + DAY, tick=False):  # its period ends: the scheduled task deletes it
        assert backup_expire_task.call() == 1
    short.refresh_from_db()
    assert short.deleted_at == NOW + DAY and not (folder / short.location).exists()
    with processor_scope():
        assert AuditEvent.objects.filter(action="backup_deleted").count() == 2
    with pytest.raises(BackupError, match=f"backup {past.pk} was deleted on 2033-03-15 12:00 UTC, past its retention"):
        backup_restore(copy=past, identity_path=folder / "no-key.txt", target_dir=folder / "restored")
    assert not (folder / "restored").exists()


def test_a_copy_holding_a_school_on_hold_is_kept_until_the_hold_is_lifted(folder: Path) -> None:
    held_school, other = factories.school("Claim Primary"), factories.school("Other Primary")
    with time_machine.travel(NOW - DAY, tick=False):
        hold = hold_place(school=held_school, reason="Insurer's claim", placed_by="DPO")
    both = _copy(folder, taken_at=NOW - BACKUP_LONGEST_KEPT - DAY, schools=[held_school, other])
    alone = _copy(folder, taken_at=NOW - BACKUP_LONGEST_KEPT - DAY + dt.timedelta(hours=1), schools=[other])
    with processor_scope():  # an erasure after the held copy was taken: a restore of it must replay it
        RestoreReplay.objects.create(at=both.taken_at + DAY, kind=RestoreReplay.Kind.ROWS, target="t", source_ids=["1"])

    with time_machine.travel(NOW, tick=False):
        result = backup_expire(now=NOW)
        replay_prune(now=NOW)

    assert [c.pk for c in result.deleted] == [alone.pk] and result.held == {both.pk: [held_school.pk]}
    assert (folder / both.location).exists() and not (folder / alone.location).exists()
    both.refresh_from_db()
    assert both.deleted_at is None
    with processor_scope():
        assert RestoreReplay.objects.filter(kind=RestoreReplay.Kind.ROWS).exists()  # still needed by `both`

    with time_machine.travel(NOW + DAY, tick=False):
        hold_lift(hold=hold, lifted_by="DPO")
        assert [c.pk for c in backup_expire(now=NOW + DAY).deleted] == [both.pk]
        replay_prune(now=NOW + DAY)
    assert not (folder / both.location).exists()
    with processor_scope():
        assert not RestoreReplay.objects.filter(kind=RestoreReplay.Kind.ROWS).exists()  # no copy left needs it


def test_a_copy_whose_file_is_already_gone_is_recorded_as_deleted_all_the_same(folder: Path) -> None:
    copy = _copy(folder, taken_at=NOW - BACKUP_LONGEST_KEPT - DAY, schools=[])
    (folder / copy.location).unlink()
    with time_machine.travel(NOW, tick=False):
        assert [c.pk for c in backup_expire(now=NOW).deleted] == [copy.pk]
    with processor_scope():
        assert AuditEvent.objects.get(action="backup_deleted").detail["file_found"] is False


def test_the_certificate_states_when_the_last_backup_holding_the_school_is_destroyed(folder: Path) -> None:
    leaving, staying = factories.school("Leaving Primary"), factories.school("Staying Primary")
    _copy(folder, taken_at=NOW - 20 * DAY, schools=[leaving, staying])
    newest = _copy(folder, taken_at=NOW - 2 * DAY, schools=[leaving, staying])
    _copy(folder, taken_at=NOW - DAY, schools=[staying])  # newer, but without the leaving school
    with time_machine.travel(NOW, tick=False):
        termination = termination_start(
            contract=Contract.objects.get(school=leaving), requested_by="Processor Admin", reason="Joining a trust"
        )
        done = termination_purge(termination=termination, confirmed_by="Processor Admin", override_window=True)

    certificate = certificate_text(done)
    destroyed = newest.taken_at + BACKUP_LONGEST_KEPT
    assert f"will be destroyed on {destroyed:%Y-%m-%d}" in certificate

    BackupCopy.objects.filter(school_ids__contains=[leaving.id]).update(deleted_at=NOW)
    assert "no backup still kept holds the school's data" in certificate_text(done)


def test_the_expiry_runs_every_night_before_the_sweep() -> None:
    """Before the sweep's replay pruning, which then no longer waits for the copies deleted that night."""
    night = dt.datetime(2033, 3, 15, 1, 15, tzinfo=dt.UTC)  # 01:15 in London in winter
    assert "steward.retention.tasks.backup_expire_task" in {e.task for e in due(night)}
    [entry] = [e for e in SCHEDULE if e.task == "steward.retention.tasks.backup_expire_task"]
    [sweep] = [e for e in SCHEDULE if e.task == "steward.retention.tasks.retention_sweep_task"]
    assert entry.when == sweep.when == "daily" and entry.at < sweep.at
