"""`steward retention preview|sweep [--school URN]`: what the next sweep would delete and why, or run it now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from steward.retention.selectors import retention_preview, unevaluated_rules
from steward.retention.services import retention_sweep
from steward.tenancy.models import Organisation


class Command(BaseCommand):
    help = "Retention: preview what the next sweep would delete, or sweep now."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("preview", "what would be deleted, and under which rule"), ("sweep", "delete it now")):
            action = sub.add_parser(name, help=text)
            action.add_argument("--school", type=int, help="one school's URN (default: every school)")

    def handle(self, *args: Any, **options: Any) -> None:
        schools = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).order_by("name")
        if options.get("school"):
            schools = schools.filter(urn=options["school"])
            if not schools.exists():
                raise CommandError(f"no school with URN {options['school']}")
        # Portal accounts belong to no one school: they are swept (and previewed) only for every school.
        everyone = not options.get("school")
        if options["action"] == "sweep":
            proofs = retention_sweep(today=timezone.localdate(), schools=list(schools), processor_wide=everyone)
            for proof in proofs:
                where = proof.school.name if proof.school else "All schools"
                self.stdout.write(f"{where}: deleted {proof.rows} row(s) of {proof.what} - {proof.policy}")
            self.stdout.write(f"Swept: {sum(p.rows for p in proofs)} row(s), {len(proofs)} proof(s) written.")
            return
        due = retention_preview(today=timezone.localdate(), schools=list(schools), processor_wide=everyone)
        if not due:
            self.stdout.write("Nothing is due for deletion.")
        for item in due:
            rule = item.rule
            where = item.school.name if item.school else "All schools"
            self.stdout.write(
                f"{where}: {item.rows} row(s) of {item.what} - {rule.activity.name}, "
                f"{rule.period_days} days {rule.get_trigger_display()} ({item.reason})"
            )
            if item.held:
                self.stdout.write(f"  held: {item.held} row(s) under a legal hold ({item.held_reason})")
        for rule in unevaluated_rules():
            self.stdout.write(
                f"(no data held yet) {rule.activity.name}: {rule.period_days} days {rule.get_trigger_display()}"
            )
