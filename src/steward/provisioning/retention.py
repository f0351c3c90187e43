"""Provisioning's retention rules (see `register.retention_targets`).

- Leavers' accounts: the provisioning run disables them on the leaving date and deletes them, and
  Steward's link to them, when the period ends. This target is the backstop for a directory that
  stayed unreachable: a link more than 14 days past its period is deleted anyway, and the account
  must then be removed from that directory by hand (the run's errors say so).
- Run records (plans and their outcomes) older than their period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from steward.provisioning.models import InitialPassword, PlannedChange, ProvisionedAccount, ProvisioningRun
from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Found, RetentionTarget, delete_rows

BACKSTOP_DAYS = 14


def _stale_links(person_type: str) -> Callable[[RetentionRule, Context], list[Found]]:
    def find(rule: RetentionRule, ctx: Context) -> list[Found]:
        return _stale(rule, ctx, person_type)

    find.__module__ = __name__
    return find


def _stale(rule: RetentionRule, ctx: Context, person_type: str) -> list[Found]:
    cutoff = ctx.cutoff(rule) - dt.timedelta(days=BACKSTOP_DAYS)
    held_whole = ctx.holds.held_school_ids
    if held_whole and set(ctx.school_ids) <= set(held_whole):
        return []
    # A school held whole keeps its links and shows none; a held subject's link (any record type, as
    # the link's source id may be a learner's or a staff member's) is kept and counted at its school.
    stale = ProvisionedAccount.objects.filter(
        person_type=person_type, status=ProvisionedAccount.Status.DISABLED, left_on__lt=cutoff
    ).exclude(school_id__in=held_whole)
    subjects = ctx.holds.subject_rows("source_id")
    held = [stale.filter(subjects)] if ctx.holds.all_ids else []
    deletable = stale.exclude(subjects) if ctx.holds.all_ids else stale
    return [
        Found(
            f"links to {'staff' if person_type == 'staff' else 'learners'} who left to their directory accounts",
            f"left more than {rule.period_days + BACKSTOP_DAYS} days ago",
            [InitialPassword.objects.filter(account__in=deletable), deletable],
            held=sum(q.count() for q in held),
            held_reason="; ".join(ctx.holds.reasons),
            held_rows=held,
        )
    ]


def _old_runs(rule: RetentionRule, ctx: Context) -> list[Found]:
    old = ProvisioningRun.objects.filter(planned_at__lt=ctx.cutoff_time(rule))
    changes = PlannedChange.objects.filter(run__in=old)
    return [Found("provisioning runs and their plans", f"older than {rule.period_days} days", [changes, old])]


TARGETS = (
    RetentionTarget("rostering", "leaving_date", "learner.identity", "school", _stale_links("learners"), delete_rows),
    RetentionTarget("rostering", "leaving_date", "staff.identity", "school", _stale_links("staff"), delete_rows),
    RetentionTarget("rostering", "event_time", None, "school", _old_runs, delete_rows),
)
