"""Backups past the register's period are deleted from their place, with a proof; a held school's are kept.

The register keeps the backup vault's copies for seven years (`BACKUP_LONGEST_KEPT`, each copy's
`kept_until`). Past that, `backup_expire` deletes the file, its sidecars and its manifest from the location and
keeps the `BackupCopy` row as the deletion record (`deleted_at`, with its SHA-256, place and key)
plus a `backup_deleted` audit event in the hash chain. The row holds no personal data, so keeping
it is free; deleting it would leave no trace that the copy ever ended. Each copy is deleted from the
location it was written to (its `store`), whatever `STEWARD_BACKUP_LOCATION` says today.

The same nightly run clears what killed runs left in today's location: multipart uploads (S3) and
`.partial` files (folder) started more than a day ago (`INCOMPLETE_AFTER`), reported in `incomplete`.

Legal holds: a whole-school hold keeps everything the school has, and a backup is the only place
a purged school's data may still be, so a copy holding any school under a whole-school hold in
force is kept (and reported) until the hold is lifted. A hold on one subject is not enough to keep
a whole-database copy of every school: the live rows of that subject are kept by the sweep itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from steward.audit.services import audit_record
from steward.retention.backups.location import Location, location_for_store, location_from_settings
from steward.retention.backups.manifest import manifest_key
from steward.retention.backups.sidecars import sidecar_keys
from steward.retention.backups.wal import wal_expire
from steward.retention.models import BackupCopy, LegalHold
from steward.tenancy.scope import estate_scope


@dataclass
class Expired:
    deleted: list[BackupCopy] = field(default_factory=list)
    held: dict[int, list[int]] = field(default_factory=dict)  # copy id -> held school ids
    incomplete: list[str] = field(default_factory=list)  # keys of abandoned uploads / partial files cleared
    wal_deleted: int = 0  # archived WAL segments no kept base backup needs any more


INCOMPLETE_AFTER = dt.timedelta(days=1)  # no backup takes a day to write: older is a killed run's


def _schools_on_hold() -> set[int]:
    with estate_scope():  # every school's holds: a copy holds every school
        return set(
            LegalHold.objects.filter(kind=LegalHold.Kind.SCHOOL, lifted_at__isnull=True).values_list(
                "school_id", flat=True
            )
        )


def backup_expire(*, now: dt.datetime, location: Location | None = None) -> Expired:
    """Delete every copy whose `kept_until` has passed, unless a school it holds is under a hold; clear
    the incomplete uploads killed runs left more than a day ago. `location` (tests) overrides each
    copy's own `store`."""
    result = Expired()
    due = list(BackupCopy.objects.filter(kept_until__lte=now, deleted_at__isnull=True).order_by("taken_at", "id"))
    on_hold = _schools_on_hold() if due else set()
    places: dict[str, Location] = {}
    for copy in due:
        held = sorted(on_hold.intersection(copy.school_ids))
        if held:
            result.held[copy.pk] = held
            continue
        if copy.store not in places:
            places[copy.store] = location or location_for_store(copy.store)
        place = places[copy.store]
        file_found = place.delete(copy.location)
        for key in sidecar_keys(copy.location):  # the replay log and the attachments, with their copy
            place.delete(key)
        place.delete(manifest_key(copy.location))
        copy.deleted_at = now
        copy.save(update_fields=["deleted_at"])
        audit_record(
            action="backup_deleted",
            actor_label="backup retention",
            object_type="retention.BackupCopy",
            object_ids=[copy.pk],
            detail={
                "place": copy.place,
                "location": copy.location,
                "store": copy.store,
                "sha256": copy.sha256,
                "size_bytes": copy.size_bytes,
                "taken_at": copy.taken_at.isoformat(),
                "kept_until": copy.kept_until.isoformat(),
                "file_found": file_found,
                "schools": len(copy.school_ids),
            },
        )
        result.deleted.append(copy)
    result.wal_deleted = _expire_wal(result.deleted, location or location_from_settings())
    # Last: what a killed run left behind must not stand in the way of the deletions the register requires.
    result.incomplete = (location or location_from_settings()).clear_incomplete(now - INCOMPLETE_AFTER)
    return result


def _expire_wal(deleted: list[BackupCopy], location: Location) -> int:
    """The archived WAL from the deleted base backups' first segment up to the oldest kept base backup's:
    no restore can start before a kept base backup. With no base backup kept, the WAL is left alone (a
    base backup taken next starts from the newest segments; nothing restores from the older ones, but
    deleting by walking names from nowhere would be a guess)."""
    starts = sorted(c.wal_start for c in deleted if c.kind == BackupCopy.Kind.BASE and c.wal_start)
    if not starts:
        return 0
    oldest_kept = (
        BackupCopy.objects.filter(kind=BackupCopy.Kind.BASE, deleted_at__isnull=True)
        .exclude(wal_start="")
        .order_by("wal_start")
        .first()
    )
    if oldest_kept is None:
        return 0
    return wal_expire(location, first=starts[0], before=oldest_kept.wal_start)
