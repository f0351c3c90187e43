"""`steward ingest FILE --school URN`: the same pipeline as the API, from the command line."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.ingest.records import BatchRejected
from steward.ingest.services import batch_ingest
from steward.tenancy.models import Organisation

SUFFIX_FORMATS = {".xml": "ctf", ".zip": "csv-zip", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


class Command(BaseCommand):
    help = "Apply one MIS batch file for a school (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--school", type=int, required=True, help="the school's URN")
        parser.add_argument(
            "--format", choices=["ctf", "csv-zip", "json", "ndjson"], help="default: from the file's suffix"
        )
        parser.add_argument("--mode", choices=["full", "delta"], default="delta")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        fmt = options["format"] or SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise CommandError(f"{path}: cannot tell the format from the suffix; give --format")
        school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=options["school"]).first()
        if school is None:
            raise CommandError(f"no school with URN {options['school']}")
        with path.open("rb") as stream:
            try:
                result = batch_ingest(
                    school=school,
                    stream=stream,
                    format=fmt,
                    mode=options["mode"],
                    sent_by=f"cli:{getpass.getuser()}",
                    filename=path.name,
                )
            except BatchRejected as rejected:
                lines = [f"  {e.ref} [{e.source_id or '-'}] {e.field}: {e.reason}" for e in rejected.errors[:50]]
                raise CommandError("batch rejected, nothing changed:\n" + "\n".join(lines)) from None
        batch = result.batch
        note = " (already applied earlier; nothing done)" if result.duplicate else ""
        self.stdout.write(f"batch {batch.id} {batch.status}{note}")
        self.stdout.write(json.dumps(batch.counts, indent=2, sort_keys=True))
