"""`steward provision plan|apply|confirm --school URN --target NAME`: provisioning from the command line.

`plan` computes and prints a plan (and keeps it, as the back office shows it); `apply` applies the
target's latest plan, or a new one when there is none waiting; a plan held by the mass-change brake
is applied only after `confirm` (or a school admin's confirmation in the back office).
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from steward.audit.actor import Actor
from steward.provisioning import services
from steward.provisioning.models import PlannedChange, ProvisioningRun, ProvisioningTarget
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope, tenant_scope


class Command(BaseCommand):
    help = "Plan, confirm or apply account provisioning for one school's directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["plan", "apply", "confirm"])
        parser.add_argument("--school", type=int, required=True, help="the school's URN")
        parser.add_argument("--target", required=True, help="the target's short name")

    def handle(self, *args: Any, **options: Any) -> None:
        with estate_scope():
            school = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, urn=options["school"]).first()
            if school is None:
                raise CommandError(f"no school with URN {options['school']}")
            target = (
                ProvisioningTarget.objects.select_related("flow__recipient")
                .filter(school=school, name=options["target"])
                .first()
            )
        if target is None:
            raise CommandError(f"{school.name} has no provisioning target named {options['target']!r}")
        actor = Actor.system(f"cli:{getpass.getuser()}", organisation_id=school.pk)
        try:
            if options["action"] == "plan":
                run = services.plan_make(target=target, trigger=ProvisioningRun.Trigger.MANUAL, actor=actor)
                self._print(run)
            elif options["action"] == "confirm":
                services.plan_confirm(run=self._waiting(target, ProvisioningRun.Status.HELD), actor=actor)
                self.stdout.write("Confirmed; apply it with: steward provision apply")
            else:
                run = self._waiting(target, ProvisioningRun.Status.PLANNED, make=True, actor=actor)
                run = services.run_apply(run=run, actor=actor)
                self._print(run)
        except services.RunRefused as exc:
            raise CommandError(str(exc)) from exc

    def _waiting(
        self, target: ProvisioningTarget, status: str, *, make: bool = False, actor: Actor | None = None
    ) -> ProvisioningRun:
        with tenant_scope([target.school_id]):
            run: ProvisioningRun | None = (
                ProvisioningRun.objects.filter(target=target, status=status).order_by("-planned_at").first()
            )
        if run is None and make and actor is not None:
            run = services.plan_make(target=target, trigger=ProvisioningRun.Trigger.MANUAL, actor=actor)
            if run.status == ProvisioningRun.Status.HELD:
                self._print(run)
                raise CommandError("the plan is held by the mass-change brake: confirm it first")
        if run is None:
            raise CommandError(f"no {status} plan for {target.name}")
        return run

    def _print(self, run: ProvisioningRun) -> None:
        with tenant_scope([run.school_id]):
            changes = list(PlannedChange.objects.filter(run=run).order_by("position"))
            name = ProvisioningTarget.objects.get(pk=run.target_id).name
        self.stdout.write(f"{name}: {run.get_status_display()} ({len(changes)} changes)")
        if run.held_reason:
            self.stdout.write(run.held_reason)
        if run.error:
            self.stdout.write(f"Error: {run.error}")
        for c in changes:
            outcome = (
                ""
                if c.outcome == PlannedChange.Outcome.PENDING
                else f"  [{c.get_outcome_display()}{': ' + c.detail if c.detail else ''}]"
            )
            fields = f" ({', '.join(c.fields)})" if c.fields and c.action not in ("create", "adopt") else ""
            self.stdout.write(f"{c.get_action_display():<24} {c.user_name:<40} {c.reason}{fields}{outcome}")
