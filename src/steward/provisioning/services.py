"""What people do to provisioning, each audited: set up a target, plan, confirm or discard a held
plan, apply, and print the initial-password letters (which deletes the passwords: shown once)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.sealed import seal, unseal
from steward.provisioning import runs
from steward.provisioning.models import InitialPassword, ProvisioningRun, ProvisioningTarget
from steward.provisioning.naming import NamingError, check_rule
from steward.provisioning.targets import address_refusal, missing_fields
from steward.sharing.models import DataFlow
from steward.tenancy.scope import tenant_scope

RunRefused = runs.RunRefused


def target_save(*, target: ProvisioningTarget, credential: str, actor: Actor) -> ProvisioningTarget:
    """Create or change a target. Its rules must make names, and read only what its flow releases;
    an empty credential keeps the one already stored."""
    errors: dict[str, str] = {}
    for setting in ("staff_naming", "learner_naming"):
        try:
            check_rule(getattr(target, setting))
        except NamingError as exc:
            errors[setting] = str(exc)
    endpoint_problem = _endpoint_problem(target)
    if endpoint_problem:
        errors["endpoint"] = endpoint_problem
    if target.flow.school_id != target.school_id:
        errors["flow"] = "The data flow belongs to another school."
    elif target.flow.status != DataFlow.Status.APPROVED:
        errors["flow"] = "Choose an approved data flow: the school decides what the directory receives there first."
    else:
        for setting, fields in missing_fields(target, set(target.flow.fields)).items():
            errors.setdefault(setting, "The approved flow does not release " + ", ".join(fields) + ".")
    if not 0 < target.brake_percent <= 100:
        errors["brake_percent"] = "Enter a share between 1 and 100 %."
    if not credential and not target.credential:
        errors["credential"] = "Enter the token or password Steward uses to sign in to the directory."
    if errors:
        raise ValidationError(errors)
    creating = target.pk is None
    if credential:
        target.credential = seal(credential)
    with tenant_scope([target.school_id]):
        target.save()
        audit_action(
            actor,
            action="provisioning_target_created" if creating else "provisioning_target_changed",
            school_id=target.school_id,
            object_type="provisioning.ProvisioningTarget",
            object_ids=[target.pk],
            detail={"name": target.name, "kind": target.kind, "credential_changed": bool(credential)},
        )
    return target


def _endpoint_problem(target: ProvisioningTarget) -> str:
    """Why the address cannot be a directory of this kind ('' when it can)."""
    parts = urlsplit(target.endpoint.strip())
    if target.kind == ProvisioningTarget.Kind.SCIM:
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return "Enter the directory's SCIM address, starting https://, e.g. https://scim.example/v2"
        return _address_problem(target)
    if parts.scheme not in ("ldaps", "ldap") or not parts.hostname:
        return "Enter the domain controller's address, starting ldaps://, e.g. ldaps://dc1.school.example"
    if parts.scheme == "ldap" and not target.start_tls:
        return "ldap:// sends passwords unencrypted: use ldaps://, or tick StartTLS"
    if not target.bind_user or not target.base_dn:
        return "Enter the AD account Steward signs in as and the domain's base DN"
    return _address_problem(target)


def _address_problem(target: ProvisioningTarget) -> str:
    why = address_refusal(target)
    return f"Steward will not connect to this address: {why}" if why else ""


def plan_make(
    *, target: ProvisioningTarget, trigger: str, actor: Actor, today: dt.date | None = None
) -> ProvisioningRun:
    """Compute and store a plan; a plan over the brake is held for a school admin."""
    with tenant_scope([target.school_id]):
        run = runs.make_plan(target=target, trigger=trigger, today=today)
        audit_action(
            actor,
            action="provisioning_planned" if run.status == ProvisioningRun.Status.PLANNED else "provisioning_held",
            school_id=target.school_id,
            object_type="provisioning.ProvisioningRun",
            object_ids=[run.pk],
            detail={"target": target.name, "counts": run.counts},
        )
    return run


def plan_confirm(*, run: ProvisioningRun, actor: Actor) -> ProvisioningRun:
    """A school admin lets a held plan through the brake (it is then applied like any other)."""
    return _decide(run, actor, allowed=(ProvisioningRun.Status.HELD,), to=ProvisioningRun.Status.PLANNED)


def plan_discard(*, run: ProvisioningRun, actor: Actor) -> ProvisioningRun:
    """A school admin throws away a plan not yet applied; nothing is sent."""
    waiting = (ProvisioningRun.Status.HELD, ProvisioningRun.Status.PLANNED)
    return _decide(run, actor, allowed=waiting, to=ProvisioningRun.Status.DISCARDED)


def _decide(run: ProvisioningRun, actor: Actor, *, allowed: tuple[str, ...], to: str) -> ProvisioningRun:
    """Move a waiting plan on, once, under a row lock (two admins clicking at once decide once)."""
    with tenant_scope([run.school_id]):
        locked: ProvisioningRun = ProvisioningRun.objects.select_for_update().get(pk=run.pk)
        if locked.status not in allowed:
            raise RunRefused(f"this plan is {locked.get_status_display().lower()}; it cannot be changed now")
        locked.status = to
        locked.confirmed_by, locked.confirmed_at = actor.label, timezone.now()
        locked.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        audit_action(
            actor,
            action="provisioning_confirmed" if to == ProvisioningRun.Status.PLANNED else "provisioning_discarded",
            school_id=run.school_id,
            object_type="provisioning.ProvisioningRun",
            object_ids=[run.pk],
            detail={"counts": locked.counts},
        )
    return locked


def run_apply(*, run: ProvisioningRun, actor: Actor, today: dt.date | None = None) -> ProvisioningRun:
    """Apply a plan (outside a transaction: it commits a chunk at a time), then audit what happened."""
    with tenant_scope([run.school_id]):
        run = ProvisioningRun.objects.select_related("target__flow__recipient").get(pk=run.pk)
    result = runs.apply_run(run=run, today=today)
    with tenant_scope([run.school_id]):
        audit_action(
            actor,
            action="provisioning_applied",
            school_id=run.school_id,
            object_type="provisioning.ProvisioningRun",
            object_ids=[run.pk],
            detail={"status": result.status, "counts": result.counts, "error": result.error[:200]},
        )
    return result


def letters_take(*, school_id: int, group: str, actor: Actor) -> list[dict[str, Any]]:
    """The initial passwords of one registration group, opened for printing and deleted in the same
    transaction: whoever prints them is the only one who ever sees them."""
    with tenant_scope([school_id]):
        rows = list(
            InitialPassword.objects.filter(school_id=school_id)
            .select_related("account", "account__target")
            .select_for_update(of=("self",))
            .order_by("account__written__display_name")
        )
        chosen = [r for r in rows if r.group == group]
        letters = [
            {
                "name": r.account.written.get("display_name", ""),
                "group": group,
                "user_name": r.account.user_name,
                "login": r.account.login,
                "password": unseal(r.sealed),
                "directory": r.account.target.flow.recipient.name,
            }
            for r in chosen
        ]
        InitialPassword.objects.filter(pk__in=[r.pk for r in chosen]).delete()
        audit_action(
            actor,
            action="provisioning_letters_printed",
            school_id=school_id,
            object_type="provisioning.InitialPassword",
            object_ids=[r.account_id for r in chosen],
            detail={"group": group, "letters": len(letters)},
        )
    return letters
