"""`steward oneroster export --school URN --recipient CODE [--delta-since TIMESTAMP] [--out PATH]`:
write one school's roster for one recipient as the OneRoster 1.2 CSV zip.

Only that school, and only what its approved rostering flows to the recipient release; the export
is logged as disclosures and audited (`rostering.services.oneroster_csv_export`). Without
`--delta-since` it is a bulk export of every active record; with it, the records modified after
that time, deletions included. A refusal names the option at fault and writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from steward.audit.actor import Actor
from steward.rostering.services import ExportRefused, oneroster_csv_export


class Command(BaseCommand):
    help = "OneRoster 1.2 CSV: `export` writes a school's roster for a recipient as a zip (bulk or delta)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export"], help="export: write the CSV zip")
        parser.add_argument("--school", required=True, help="The school's URN")
        parser.add_argument("--recipient", required=True, help="The register recipient's code")
        parser.add_argument(
            "--delta-since",
            help="Only what changed after this time (ISO 8601 with a time zone, e.g. 2026-11-01T00:00:00Z)",
        )
        parser.add_argument(
            "--out", help="Where to write the zip (default: oneroster-URN-RECIPIENT-MODE-TIME.zip here)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        urn = _urn(options["school"])
        since = _since(options["delta_since"]) if options["delta_since"] else None
        out = Path(options["out"]) if options["out"] else Path.cwd() / _default_name(urn, options["recipient"], since)
        if out.is_dir():
            raise CommandError(f"--out: {out} is a folder; give the zip's file name")
        if not out.parent.is_dir():
            raise CommandError(f"--out: the folder {out.parent} does not exist")
        try:
            exported = oneroster_csv_export(
                school_urn=urn,
                recipient_code=options["recipient"],
                since=since,
                out=out,
                actor=Actor.system("steward oneroster export"),
            )
        except ExportRefused as refused:
            raise CommandError(f"--{refused.field}: {refused.message}; nothing was written") from refused
        files = ", ".join(f"{name}.csv {count}" for name, count in exported.counts.items()) or "no file changed"
        self.stdout.write(f"{exported.mode} export written to {exported.path} ({files})\n")


def _urn(text: str) -> int:
    if not text.strip().isdigit():
        raise CommandError(f"--school: {text!r} is not a URN (the school's DfE number, digits only)")
    return int(text)


def _since(text: str) -> dt.datetime:
    try:
        since = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"--delta-since: {text!r} is not an ISO 8601 time (e.g. 2026-11-01T00:00:00Z)") from error
    if since.tzinfo is None:
        raise CommandError(f"--delta-since: {text!r} has no time zone; add one (Z for UTC, or +01:00)")
    return since


def _default_name(urn: int, recipient: str, since: dt.datetime | None) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return f"oneroster-{urn}-{recipient}-{'delta' if since else 'bulk'}-{stamp}.zip"
