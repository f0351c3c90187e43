"""`steward backup replay --backup ID`: after restoring a backup, apply again every erasure made since."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.retention.models import BackupCopy
from steward.retention.services import replay_after_restore


class Command(BaseCommand):
    help = "Backups: re-apply erasures and purges after a restore."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        replay = sub.add_parser("replay", help="re-apply what was erased after the restored backup was taken")
        replay.add_argument("--backup", type=int, required=True, help="the BackupCopy id that was restored")

    def handle(self, *args: Any, **options: Any) -> None:
        backup = BackupCopy.objects.filter(pk=options["backup"]).first()
        if backup is None:
            raise CommandError(f"no backup copy {options['backup']}")
        applied = replay_after_restore(backup=backup)
        self.stdout.write(f"Re-applied {applied} erasure(s) and purge(s) made since {backup.taken_at:%Y-%m-%d %H:%M}.")
