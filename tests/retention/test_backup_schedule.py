"""The scheduled backups: the nightly create and the weekly verify, run as the scheduler enqueues them
(the immediate task backend in tests), with real pg_dump, age and scratch servers. A failure is
emailed to the ICT service's administrators and audited; with no key on the server the weekly verify
says so on the copy instead of failing in silence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks import TaskResultStatus
from pyrage import x25519
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.models import AuditEvent
from steward.retention.backups.scheduled import NO_KEY, newest_unverified
from steward.retention.models import BackupCopy
from steward.retention.services import backup_record
from steward.retention.tasks import backup_create_task, backup_verify_task
from steward.tenancy.models import Role
from steward.tenancy.scope import processor_scope
from tests import factories


@pytest.fixture
def admins() -> list[str]:
    processor = factories.processor()
    factories.user(Role.PROCESSOR_ADMIN, processor, email="ops@ict.invalid")
    factories.user(Role.PROCESSOR_ADMIN, processor, email="night@ict.invalid")
    factories.user(Role.PROCESSOR_SUPPORT, processor, email="desk@ict.invalid")  # not an administrator
    return ["night@ict.invalid", "ops@ict.invalid"]


@pytest.fixture
def recipients(settings: SettingsWrapper, tmp_path: Path) -> Path:
    identity = x25519.Identity.generate()
    settings.STEWARD_BACKUP_RECIPIENTS = [str(identity.to_public())]
    settings.STEWARD_BACKUP_DIR = tmp_path / "backups"
    settings.STEWARD_BACKUP_IDENTITY_FILE = ""
    key = tmp_path / "backup-key.txt"
    key.write_text(f"{identity}\n")
    return key


def _events(action: str) -> list[AuditEvent]:
    with processor_scope():
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _hand_recorded(minutes_ago: int) -> BackupCopy:
    return backup_record(
        taken_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        place="uk-backup",
        location=f"steward-{minutes_ago}.dump.age",
        school_ids=[],
        sha256="a" * 64,
        size_bytes=10,
    )


@pytest.mark.django_db
def test_a_nightly_backup_that_cannot_write_emails_the_processor_admins_and_is_audited(
    recipients: Path, admins: list[str], settings: SettingsWrapper, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    settings.STEWARD_BACKUP_DIR = blocker / "backups"

    result = backup_create_task.enqueue()

    assert result.status == TaskResultStatus.FAILED  # the worker records the failure too
    assert not BackupCopy.objects.exists()
    assert sorted(m.to[0] for m in mail.outbox) == admins
    message = mail.outbox[0]
    assert message.subject == "Steward: last night's backup failed"
    assert f"cannot make the backup folder {blocker / 'backups'}" in message.body
    assert "/processor/backups/" in message.body
    [event] = _events("backup_failed")
    assert event.detail["step"] == "create" and event.detail["told"] == 2
    assert "cannot make the backup folder" in event.detail["reason"]


@pytest.mark.django_db
def test_without_a_key_on_the_server_the_weekly_verify_marks_the_newest_copy_not_verified(
    recipients: Path, admins: list[str]
) -> None:
    older, newer = _hand_recorded(60), _hand_recorded(5)
    BackupCopy.objects.filter(pk=_hand_recorded(1).pk).update(sha256="")  # recorded by hand, no file: skipped

    result = backup_verify_task.enqueue()

    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == NO_KEY
    newer.refresh_from_db()
    older.refresh_from_db()
    assert newer.verification["note"] == NO_KEY and newer.verified_at is None and newer.verified_ok is None
    assert older.verification == {}
    [event] = _events("backup_not_verified")
    assert [str(i) for i in event.object_ids] == [str(newer.pk)]
    assert mail.outbox == []  # the documented default is not a failure


@pytest.mark.django_db
def test_a_weekly_verify_that_fails_emails_the_admins_and_records_the_failure(
    recipients: Path, admins: list[str], settings: SettingsWrapper
) -> None:
    settings.STEWARD_BACKUP_IDENTITY_FILE = str(recipients)
    copy = _hand_recorded(5)  # recorded, but its file is not in the backup folder

    result = backup_verify_task.enqueue()

    assert result.status == TaskResultStatus.FAILED
    copy.refresh_from_db()
    assert copy.verified_ok is False and copy.verified_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == admins
    message = mail.outbox[0]
    assert message.subject == "Steward: a backup failed its weekly verification"
    assert f"restored backup {copy.pk} taken" in message.body and "is not in folder" in message.body
    [event] = _events("backup_failed")
    assert event.detail["step"] == "verify"


def test_the_nightly_backup_and_the_weekly_verify_of_the_newest_copy_with_the_key_configured(
    committed_db: None, recipients: Path, settings: SettingsWrapper
) -> None:
    factories.school("Scheduled Primary")
    settings.STEWARD_BACKUP_IDENTITY_FILE = str(recipients)
    first = backup_create_task.enqueue()
    second = backup_create_task.enqueue()
    assert first.status == second.status == TaskResultStatus.SUCCESSFUL
    assert newest_unverified() == BackupCopy.objects.get(pk=second.return_value)

    verified = backup_verify_task.enqueue()

    assert verified.status == TaskResultStatus.SUCCESSFUL, verified.errors
    assert verified.return_value == f"backup {second.return_value} verified"
    newest = BackupCopy.objects.get(pk=second.return_value)
    assert newest.verified_ok is True and newest.verification["audit_chain"]["ok"] is True
    assert BackupCopy.objects.get(pk=first.return_value).verified_at is None
    assert newest_unverified() == BackupCopy.objects.get(pk=first.return_value)
    assert mail.outbox == []
