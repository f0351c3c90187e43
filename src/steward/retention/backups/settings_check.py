"""A system check of the backup location (`manage.py check`, and every command that runs checks):
a malformed `STEWARD_BACKUP_LOCATION` or `STEWARD_BACKUP_S3_ENDPOINT_URL` would otherwise be found
only by the nightly backup, at 02:30, by email. Refused at start-up instead, naming the value. Whether
the store is reachable is not checked here (no network at start-up): `backup create` says so."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error

from steward.retention.backups import BackupError
from steward.retention.backups.location import check_endpoint, location_from_settings


def check_backup_location(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from django.conf import settings

    errors = []
    try:
        check_endpoint(str(getattr(settings, "STEWARD_BACKUP_S3_ENDPOINT_URL", "") or ""))
        location_from_settings()
    except BackupError as error:
        errors.append(
            Error(
                f"STEWARD_BACKUP_LOCATION / STEWARD_BACKUP_S3_ENDPOINT_URL: {error}",
                hint="Set STEWARD_BACKUP_LOCATION to an absolute folder path or s3://bucket/prefix, and "
                "STEWARD_BACKUP_S3_ENDPOINT_URL to the store's https:// URL (or leave it empty for AWS).",
                id="retention.E001",
            )
        )
    return errors
