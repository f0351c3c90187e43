"""What the back office reads about provisioning (inside the school's tenant scope)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from steward.provisioning.models import InitialPassword, PlannedChange, ProvisioningRun, ProvisioningTarget
from steward.sharing.models import DataFlow

PLAN_ROWS = 500


@dataclass(frozen=True)
class TargetRow:
    target: ProvisioningTarget
    latest: ProvisioningRun | None
    accounts: int


def targets_for_school() -> list[TargetRow]:
    targets = list(
        ProvisioningTarget.objects.select_related("flow__recipient").annotate(n=Count("accounts")).order_by("name")
    )
    latest: dict[int, ProvisioningRun] = {}
    for run in (
        ProvisioningRun.objects.filter(target__in=targets)
        .order_by("target_id", "-planned_at", "-id")
        .distinct("target_id")
    ):
        latest[run.target_id] = run
    return [TargetRow(t, latest.get(t.pk), t.n) for t in targets]  # type: ignore[attr-defined]


def target_for_school(*, target_id: int) -> ProvisioningTarget | None:
    return ProvisioningTarget.objects.select_related("flow__recipient").filter(pk=target_id).first()


def latest_run(target: ProvisioningTarget) -> ProvisioningRun | None:
    return ProvisioningRun.objects.filter(target=target).order_by("-planned_at", "-id").first()


def run_for_school(*, run_id: int) -> ProvisioningRun | None:
    return ProvisioningRun.objects.select_related("target__flow__recipient").filter(pk=run_id).first()


def recent_runs(target: ProvisioningTarget, limit: int = 10) -> list[ProvisioningRun]:
    return list(ProvisioningRun.objects.filter(target=target).order_by("-planned_at", "-id")[:limit])


def plan_rows(run: ProvisioningRun) -> QuerySet[PlannedChange]:
    """The run's changes, refused ones first (what a school admin must act on), then in plan order."""
    return PlannedChange.objects.filter(run=run).order_by("-outcome", "position")[:PLAN_ROWS]  # type: ignore[return-value]


def letters_waiting(target: ProvisioningTarget) -> list[tuple[str, int]]:
    """Registration groups with initial-password letters not yet printed, and how many."""
    rows = (
        InitialPassword.objects.filter(account__target=target).values("group").annotate(n=Count("id")).order_by("group")
    )
    return [(r["group"], r["n"]) for r in rows]


def approved_flows_for_provisioning() -> list[DataFlow]:
    """The school's approved flows of the rostering activity that no target uses yet."""
    return list(
        DataFlow.objects.filter(
            activity__service="rostering", status=DataFlow.Status.APPROVED, provisioning_target__isnull=True
        ).select_related("recipient")
    )
