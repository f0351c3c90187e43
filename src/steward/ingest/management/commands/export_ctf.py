"""`steward export-ctf --school URN [--out FILE]`: a school's learners as a DfE CTF."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.ingest.exports import ctf_export
from steward.tenancy.models import Organisation


class Command(BaseCommand):
    help = "Write a school's learners as a Common Transfer File (portability)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--school", type=int, required=True, help="the school's URN")
        parser.add_argument("--out", type=Path, help="default: standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=options["school"]).first()
        if school is None:
            raise CommandError(f"no school with URN {options['school']}")
        document = ctf_export(school=school, actor_label=f"cli:{getpass.getuser()}")
        if options["out"]:
            options["out"].write_bytes(document)
            self.stderr.write(f"wrote {len(document)} bytes to {options['out']}")
        else:
            sys.stdout.buffer.write(document)
