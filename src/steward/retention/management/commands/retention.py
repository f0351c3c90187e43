"""`steward retention preview [--school URN]`: what the next sweep would delete, and why."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from steward.retention.selectors import retention_preview, unevaluated_rules
from steward.tenancy.models import Organisation


class Command(BaseCommand):
    help = "Retention: preview what the next sweep would delete."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        preview = sub.add_parser("preview", help="what would be deleted, and under which rule")
        preview.add_argument("--school", type=int, help="one school's URN (default: every school)")

    def handle(self, *args: Any, **options: Any) -> None:
        schools = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("name")
        if options.get("school"):
            schools = schools.filter(urn=options["school"])
            if not schools.exists():
                raise CommandError(f"no school with URN {options['school']}")
        due = retention_preview(today=timezone.localdate(), schools=list(schools))
        if not due:
            self.stdout.write("Nothing is due for deletion.")
        for item in due:
            rule = item.rule
            self.stdout.write(
                f"{item.school.name}: {item.rows} row(s) of {item.what} - {rule.activity.name}, "
                f"{rule.period_days} days {rule.get_trigger_display()} ({item.reason})"
            )
        for rule in unevaluated_rules():
            self.stdout.write(
                f"(no data held yet) {rule.activity.name}: {rule.period_days} days {rule.get_trigger_display()}"
            )
