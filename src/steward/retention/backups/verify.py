"""`steward backup verify`: restore a backup into a scratch cluster on loopback, check it, record the result.

The scratch cluster lives in a temporary directory and is stopped and deleted whatever happens; the
result (when, passed or not, what was found) is recorded on the `BackupCopy` and in the audit log, so
the processor knows its backups restore rather than hopes they do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from django.utils import timezone

from steward.audit.services import audit_record
from steward.core import embedded_db
from steward.retention.backups import BackupError
from steward.retention.backups.location import Location
from steward.retention.backups.restore import _steward, backup_restore
from steward.retention.models import BackupCopy
from steward.tenancy.scope import processor_scope


def _remove(scratch: Path) -> None:
    """Delete the scratch cluster's directory; a second try after a moment, because a server that
    has just stopped can still be closing a file in it when the first walk passes."""
    for attempt in range(3):
        shutil.rmtree(scratch, ignore_errors=True)
        if not scratch.exists():
            return
        time.sleep(0.5 * (attempt + 1))


def backup_verify(*, copy: BackupCopy, identity_path: Path, location: Location | None = None) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="steward-verify-"))
    if os.geteuid() == 0:  # as root the server runs as its own user, which must reach its data directory
        embedded_db.ensure_system_user()
        shutil.chown(scratch, user=embedded_db.SYSTEM_USER)
    result: dict[str, Any]
    cluster = None
    try:
        restored = backup_restore(
            copy=copy, identity_path=identity_path, target_dir=scratch / "pg", location=location, keep_running=True
        )
        cluster = restored.cluster
        out = _steward(["backup", "check"], restored.database_url, restored.app_password)
        result = json.loads(out)
        result["replayed"] = restored.replayed
    except BackupError as error:
        result = {"ok": False, "error": str(error)}
    except Exception as error:  # noqa: BLE001 - any failure is a failed verification, recorded as such
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        if cluster is not None:
            cluster.stop()
        _remove(scratch)
    copy.verified_at = timezone.now()
    copy.verified_ok = bool(result.get("ok"))
    copy.verification = result
    copy.save(update_fields=["verified_at", "verified_ok", "verification"])
    with processor_scope():
        audit_record(
            action="backup_verified",
            actor_label="backup verify",
            object_type="retention.BackupCopy",
            object_ids=[copy.pk],
            detail={"ok": copy.verified_ok, "error": result.get("error", "")},
        )
    return result
