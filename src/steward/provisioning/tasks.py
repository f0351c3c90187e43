"""Scheduled provisioning: after every batch that changes people, nightly, and retries with back-off.

A run is plan-then-apply. A plan over the brake waits for a school admin and is not applied here;
a run whose directory was unavailable is retried after 1, 2, 4 … minutes (at most six hours), and
the nightly run picks up whatever is still undone.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from steward.audit.actor import Actor
from steward.provisioning import services
from steward.provisioning.models import ProvisioningRun, ProvisioningTarget
from steward.tenancy.scope import estate_scope, tenant_scope

MAX_ATTEMPTS = 6
# Record types whose change can change somebody's account.
PEOPLE_TYPES = {
    "learners",
    "staff",
    "staff-assignments",
    "staff-contracts",
    "school-enrolments",
    "groups",
    "group-enrolments",
}


def retry_delay(attempt: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** (attempt - 1), 6 * 60 * 60))


def provision_target(*, target_id: int, school_id: int, trigger: str, attempt: int = 1) -> str:
    """Plan and, unless held, apply one target. Returns the run's status (or why there was none).

    Tasks name the school as well as the target: one queued when a school's batch or request
    commits starts inside that school's scope, where only that school's rows may be read."""
    actor = Actor.system("Steward provisioning")
    with tenant_scope([school_id]):
        target = ProvisioningTarget.objects.select_related("flow__recipient").filter(pk=target_id).first()
    if target is None:
        return "no such target"
    try:
        run = services.plan_make(target=target, trigger=trigger, actor=actor)
        if run.status != ProvisioningRun.Status.PLANNED:
            return str(run.status)
        run.attempt = attempt
        with tenant_scope([target.school_id]):
            run.save(update_fields=["attempt"])
        run = services.run_apply(run=run, actor=actor)
    except services.RunRefused as exc:
        return f"refused: {exc}"
    if run.status == ProvisioningRun.Status.FAILED and attempt < MAX_ATTEMPTS:
        _retry_later(target_id, school_id, attempt)
    return str(run.status)


@task()
def provision_target_task(target_id: int, school_id: int, trigger: str, attempt: int = 1) -> str:
    return provision_target(target_id=target_id, school_id=school_id, trigger=trigger, attempt=attempt)


def _retry_later(target_id: int, school_id: int, attempt: int) -> None:
    # A backend that cannot defer (the immediate one, in tests) would retry at once, in a loop:
    # there the nightly run is the retry.
    if not provision_target_task.get_backend().supports_defer:
        return
    later = provision_target_task.using(run_after=timezone.now() + retry_delay(attempt))
    later.enqueue(target_id, school_id, ProvisioningRun.Trigger.RETRY, attempt + 1)


def enqueue_for_school(school_id: int, trigger: str) -> int:
    """Queue a run for each of the school's targets that is not paused, once the caller commits."""
    with tenant_scope([school_id]):
        ids = list(ProvisioningTarget.objects.filter(school_id=school_id, paused=False).values_list("pk", flat=True))
    for target_id in ids:
        transaction.on_commit(partial(provision_target_task.enqueue, target_id, school_id, trigger))
    return len(ids)


@task()
def provision_nightly() -> int:
    """Every target of every school, once a night."""
    with estate_scope():
        ids = list(ProvisioningTarget.objects.filter(paused=False).values_list("pk", "school_id"))
    for target_id, school_id in ids:
        provision_target_task.enqueue(target_id, school_id, ProvisioningRun.Trigger.NIGHTLY)
    return len(ids)


@task()
def apply_run_task(run_id: int, school_id: int, actor_label: str) -> str:
    """Apply one plan a school admin chose (or confirmed) in the back office."""
    with tenant_scope([school_id]):
        run = ProvisioningRun.objects.select_related("target").filter(pk=run_id).first()
    if run is None:
        return "no such run"
    try:
        run = services.run_apply(run=run, actor=Actor.system(actor_label, organisation_id=run.school_id))
    except services.RunRefused as exc:
        return f"refused: {exc}"
    if run.status == ProvisioningRun.Status.FAILED:
        _retry_later(run.target_id, school_id, run.attempt)
    return str(run.status)


def apply_after_commit(run: ProvisioningRun, actor_label: str) -> None:
    transaction.on_commit(partial(apply_run_task.enqueue, run.pk, run.school_id, actor_label))
