"""`steward audit verify`: walk the hash chain and name the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Audit log tools"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="check every event's hash and link")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event {report.broken_at}: {report.reason} "
                f"({report.checked} events before it verified)"
            )
        since = f" (from the anchor after pruned event {report.anchored_after})" if report.anchored_after else ""
        self.stdout.write(f"audit chain intact: {report.checked} events verified{since}")
