"""`steward pseudonymise --school URN --target-schema NAME`: a pseudonymised copy for development
and test, made only under a data use agreement in force today (see consents/pseudonymise.py)."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.consents.pseudonymise import NoAgreementInForce, pseudonymise_school
from steward.tenancy.models import Organisation


class Command(BaseCommand):
    help = "Copy one school's MIS data, pseudonymised, into a new schema (needs a data use agreement in force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--school", type=int, required=True, help="the school's URN")
        parser.add_argument("--target-schema", required=True, help="a new PostgreSQL schema to create")
        parser.add_argument("--by", default="", help="who is making the copy (default: the login name)")

    def handle(self, *args: Any, **options: Any) -> None:
        school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=options["school"]).first()
        if school is None:
            raise CommandError(f"no school with URN {options['school']}")
        try:
            copy = pseudonymise_school(
                school=school, target_schema=options["target_schema"], made_by=options["by"] or getpass.getuser()
            )
        except (NoAgreementInForce, ValueError) as refused:
            raise CommandError(str(refused)) from refused
        for record_type, rows in sorted(copy.row_counts.items()):
            self.stdout.write(f"{record_type}: {rows}")
        self.stdout.write(f"pseudonymised copy {copy.id} in schema {copy.schema_name} (agreement {copy.agreement_id})")
