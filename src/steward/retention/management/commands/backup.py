"""`steward backup create|restore|verify|replay|check`: encrypted backups that restore, and stay erased.

- `create`: pg_dump of the whole database, age-encrypted to STEWARD_BACKUP_RECIPIENTS, into the backup location
  (STEWARD_BACKUP_LOCATION: a folder or s3://bucket/prefix; by default the folder STEWARD_BACKUP_DIR);
- `create --kind base|dump|auto`: a base backup (pg_basebackup) when the WAL is archived, else pg_dump;
- `wal-ship`: encrypt the WAL segments the server spooled to the location's `wal/` (every minute);
- `restore --backup ID --identity FILE [--until TIME] (--target-dir DIR | --database-url URL)
  [--replay-log auto|live|location] [--attachments-dir DIR]`: checks, decrypts, restores (a base backup
  with the WAL up to TIME), replays every erasure and purge made since (the entries from the live
  database, or from the newest copy's replay log), restores the attachment folder if asked, then marks
  the restored database usable;
- `verify --backup ID --identity FILE`: restores into a scratch cluster, checks it, records the result;
- `replay --backup ID [--mark-usable]`: re-apply erasures after a restore (run by `restore` against the
  restored database; by hand with `--mark-usable` to finish a restore whose replay stopped);
- `check`: the verification's checks, as JSON (run by `verify` against the restored database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from steward.retention.backups import BackupError
from steward.retention.models import BackupCopy
from steward.retention.services import replay_after_restore


def _when(text: str) -> dt.datetime:
    """A time for --until: ISO 8601; without an offset, in Steward's TIME_ZONE."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use '2026-12-01 10:00' or ISO 8601)") from error
    return timezone.make_aware(when) if timezone.is_naive(when) else when


class Command(BaseCommand):
    help = "Backups: create, restore and verify encrypted backups; re-apply erasures after a restore."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create", help="back up the whole database, encrypted, to the backup location (folder or S3)"
        )
        create.add_argument(
            "--kind", choices=["auto", "base", "dump"], default="auto",
            help="base: pg_basebackup, restorable to a time with the archived WAL; dump: pg_dump; "
            "auto (default): base when STEWARD_WAL_ARCHIVE is on",
        )  # fmt: skip
        sub.add_parser("wal-ship", help="encrypt the spooled WAL segments to the backup location (every minute)")
        restore = sub.add_parser("restore", help="restore a backup into a new data directory or an empty database")
        restore.add_argument("--backup", type=int, required=True, help="the BackupCopy id")
        restore.add_argument("--identity", type=Path, required=True, help="file holding the age private key")
        target = restore.add_mutually_exclusive_group(required=True)
        target.add_argument("--target-dir", type=Path, help="a new (empty) directory for a fresh cluster")
        target.add_argument("--database-url", help="an empty database on a PostgreSQL server of the same version")
        restore.add_argument(
            "--replay-log",
            choices=["auto", "live", "location"],
            default="auto",
            help="where the erasures made since come from: the live database (live), the newest copy's replay "
            "log in the backup location (location, for when the live database is lost), or live when it "
            "answers, else location (auto, the default)",
        )
        restore.add_argument("--attachments-dir", type=Path, help="a new folder to restore the desk's attachments into")
        restore.add_argument(
            "--until", type=_when, help="a base backup: stop the WAL replay at this time ('2026-12-01 10:00', local)"
        )
        verify = sub.add_parser("verify", help="restore into a scratch server, check it, record the result")
        verify.add_argument("--backup", type=int, required=True, help="the BackupCopy id")
        verify.add_argument("--identity", type=Path, required=True, help="file holding the age private key")
        replay = sub.add_parser("replay", help="re-apply what was erased after the restored backup was taken")
        replay.add_argument("--backup", type=int, required=True, help="the BackupCopy id that was restored")
        replay.add_argument(
            "--mark-usable", action="store_true", help="then mark this database usable (finishing a stopped restore)"
        )
        sub.add_parser("check", help="(run by verify inside a restored database) audit chain, RLS, rows per school")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options["kind"])
            elif action == "wal-ship":
                self._wal_ship()
            elif action == "check":
                from steward.retention.backups.checks import restored_checks

                self.stdout.write(json.dumps(restored_checks()))
            else:
                copy = BackupCopy.objects.filter(pk=options["backup"]).first()
                if copy is None:
                    raise CommandError(f"no backup copy {options['backup']}")
                getattr(self, f"_{action}")(copy, options)
        except BackupError as error:
            raise CommandError(str(error)) from error

    def _create(self, kind: str) -> None:
        from steward.retention.backups.create import backup_create

        copy = backup_create(kind=kind)
        self.stdout.write(
            f"Backup {copy.pk} written: {copy.location} ({copy.kind}, {copy.size_bytes} bytes, sha256 {copy.sha256}), "
            f"{len(copy.school_ids)} school(s), kept until {copy.kept_until:%Y-%m-%d}."
        )

    def _restore(self, copy: BackupCopy, options: dict[str, Any]) -> None:
        from steward.retention.backups.restore import backup_restore

        result = backup_restore(
            copy=copy,
            identity_path=options["identity"],
            target_dir=options.get("target_dir"),
            database_url=options.get("database_url"),
            replay_log=options["replay_log"],
            attachments_dir=options.get("attachments_dir"),
            until=options.get("until"),
        )
        where = f"data directory {options['target_dir']}" if options.get("target_dir") else "the database given"
        files = (
            f" {result.attachments} attachment file(s) restored into {options['attachments_dir']}."
            if result.attachments is not None
            else ""
        )
        self.stdout.write(
            f"Backup {copy.pk} restored into {where} and usable: re-applied {result.replayed} erasure(s) and "
            f"purge(s) made since {copy.taken_at:%Y-%m-%d %H:%M}, read from {result.replay_log}"
            + "".join(f"; {note}" for note in result.notes)
            + f".{files}"
        )

    def _wal_ship(self) -> None:
        from steward.retention.backups.scheduled import wal_ship_now

        shipped = wal_ship_now()
        self.stdout.write(
            f"Shipped {len(shipped.names)} WAL file(s); the newest archived segment is {shipped.newest or 'none'}."
        )

    def _verify(self, copy: BackupCopy, options: dict[str, Any]) -> None:
        from steward.retention.backups.verify import backup_verify

        result = backup_verify(copy=copy, identity_path=options["identity"])
        if not result.get("ok"):
            raise CommandError(f"backup {copy.pk} failed verification: {json.dumps(result)}")
        self.stdout.write(
            f"Backup {copy.pk} verified: audit chain intact ({result['audit_chain']['checked']} events), row-level "
            f"security forced on every guarded table, {len(result['rows_per_school'])} school(s) with rows, "
            f"{result['replayed']} erasure(s) and purge(s) re-applied."
        )

    def _replay(self, copy: BackupCopy, options: dict[str, Any]) -> None:
        applied = replay_after_restore(backup=copy)
        self.stdout.write(f"Re-applied {applied} erasure(s) and purge(s) made since {copy.taken_at:%Y-%m-%d %H:%M}.")
        if options.get("mark_usable"):
            from steward.retention.backups.restore import mark_usable_by_hand

            mark_usable_by_hand(copy.pk, applied)
            self.stdout.write("This database is now marked usable.")
