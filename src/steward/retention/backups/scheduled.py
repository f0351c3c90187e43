"""The scheduled backups: `steward backup create` nightly, `verify` of the newest unverified copy weekly.

A scheduled run has nobody watching it, so a failure (a full disk, pg_dump failing, a damaged file,
a key that does not open the copy) is audited and emailed to the ICT service's administrators with
what failed and what to do, and the task still fails (the worker records it). The weekly verify
needs the age identity: it reads `STEWARD_BACKUP_IDENTITY_FILE` only when the processor chose to keep
the key on the server; by default there is none, and the copy is marked "not verified: no key on
this server" (on the Backups page and in the audit log) rather than skipped in silence.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from steward.audit.services import audit_record
from steward.notifications.email import send_email
from steward.retention.backups import BackupError
from steward.retention.models import BackupCopy
from steward.tenancy.scope import processor_scope
from steward.tenancy.selectors import processor_admin_emails

logger = logging.getLogger(__name__)

NO_KEY = "not verified: no key on this server"


def scheduled_create() -> BackupCopy:
    """The nightly backup; any failure is told to the processor's administrators, then raised."""
    from steward.retention.backups.create import backup_create

    try:
        return backup_create()
    except Exception as error:
        reason = str(error) if isinstance(error, BackupError) else f"{type(error).__name__}: {error}"
        tell_failure("create", reason)
        raise


def wal_ship_now() -> Any:
    """Ship the spooled WAL (`steward backup wal-ship`, every minute when STEWARD_WAL_ARCHIVE is on)."""
    from steward.retention.backups.location import location_from_settings
    from steward.retention.backups.wal import wal_ship

    return wal_ship(
        spool=Path(settings.STEWARD_WAL_SPOOL_DIR),
        location=location_from_settings(),
        recipients=list(settings.STEWARD_BACKUP_RECIPIENTS),
    )


def scheduled_wal_ship() -> int:
    """The minutely WAL shipping; a failure is told like a failed backup (the WAL piles up in the spool
    and a restore cannot reach past it), then raised."""
    try:
        return len(wal_ship_now().names)
    except Exception as error:
        reason = str(error) if isinstance(error, BackupError) else f"{type(error).__name__}: {error}"
        tell_failure("wal-ship", reason)
        raise


def newest_unverified() -> BackupCopy | None:
    """The newest copy `steward backup create` wrote (it has a checksum) that no verify has run on."""
    return BackupCopy.objects.filter(verified_at__isnull=True).exclude(sha256="").order_by("-taken_at").first()


def scheduled_verify() -> dict[str, Any]:
    """The weekly verification of the newest unverified copy (nothing to do when there is none)."""
    from steward.retention.backups.verify import backup_verify

    copy = newest_unverified()
    if copy is None:
        return {"ok": True, "verified": None, "note": "no unverified backup"}
    key = str(settings.STEWARD_BACKUP_IDENTITY_FILE or "")
    if not key:
        copy.verification = {"ok": None, "note": NO_KEY, "checked_at": timezone.now().isoformat()}
        copy.save(update_fields=["verification"])
        with processor_scope():
            audit_record(
                action="backup_not_verified",
                actor_label="scheduled backup verify",
                object_type="retention.BackupCopy",
                object_ids=[copy.pk],
                detail={"reason": NO_KEY},
            )
        return {"ok": None, "verified": copy.pk, "note": NO_KEY}
    result = backup_verify(copy=copy, identity_path=Path(key))
    if not result.get("ok"):
        tell_failure("verify", str(result.get("error") or _what_failed(result)), copy=copy)
        raise BackupError(f"backup {copy.pk} failed its scheduled verification: {result.get('error', result)}")
    return {"ok": True, "verified": copy.pk}


def _what_failed(result: dict[str, Any]) -> str:
    problems = []
    if not result.get("audit_chain", {}).get("ok", True):
        problems.append(f"the audit chain is broken at event {result['audit_chain'].get('broken_at')}")
    if result.get("tables_without_forced_rls"):
        problems.append(f"row-level security is not forced on {', '.join(result['tables_without_forced_rls'])}")
    return "; ".join(problems) or "the restored copy's checks did not pass"


def tell_failure(step: str, reason: str, *, copy: BackupCopy | None = None) -> int:
    """Audit a failed scheduled backup step and email each processor administrator. One address that
    cannot be reached does not stop the others (each failure is logged). Returns the emails sent."""
    admins = processor_admin_emails()
    with processor_scope():
        audit_record(
            action="backup_failed",
            actor_label=f"scheduled backup {step}",
            object_type="retention.BackupCopy",
            object_ids=[copy.pk] if copy else [],
            detail={"step": step, "reason": reason[:1000], "told": len(admins)},
        )
    page = settings.STEWARD_BASE_URL + reverse("backoffice:processor-backups")
    if step == "create":
        subject = "Steward: last night's backup failed"
        body = (
            "Steward's scheduled backup (`steward backup create`) failed, so no new backup copy was made.\n\n"
            f"Why: {reason}\n\n"
            "Until it is fixed the newest backup gets older every night. Fix the cause (for a full disk, "
            "free space in the backup folder; for an unreachable object store, check that it is up and that "
            "STEWARD_BACKUP_S3_ENDPOINT_URL and its credentials are right; for pg_dump, see the database "
            "server's log), then run "
            "`steward backup create` by hand and check it appears on the Backups page:\n"
            f"{page}\n"
        )
    elif step == "wal-ship":
        subject = "Steward: the WAL is not reaching the backup location"
        body = (
            "Steward's minutely `steward backup wal-ship` failed: the database's WAL segments stay in the spool "
            f"folder ({settings.STEWARD_WAL_SPOOL_DIR}), and a restore to a point in time cannot reach past "
            "the last one shipped.\n\n"
            f"Why: {reason}\n\n"
            "Fix the cause (space or access at the backup location, the recipients' keys), then run "
            f"`steward backup wal-ship` by hand. The backups are listed on:\n{page}\n"
        )
    else:
        taken = f" taken {timezone.localtime(copy.taken_at):%d %B %Y at %H:%M}" if copy else ""
        subject = "Steward: a backup failed its weekly verification"
        body = (
            f"Steward's weekly check restored backup {copy.pk if copy else ''}{taken} into a scratch server, "
            "and it did not pass: this copy may not restore when it is needed.\n\n"
            f"Why: {reason}\n\n"
            "Take a new backup (`steward backup create`) and verify it by hand with the private key "
            "(`steward backup verify --backup ID --identity FILE`). The result is on the Backups page:\n"
            f"{page}\n"
        )
    sent = 0
    for address in admins:
        try:
            send_email(address, subject, body)
        except Exception:  # noqa: BLE001 - one unreachable address must not hide the failure from the rest
            logger.exception("could not email %s about the failed backup %s", address, step)
        else:
            sent += 1
    return sent
