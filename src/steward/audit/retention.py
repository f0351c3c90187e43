"""The audit log's retention rule: events older than six years, a prefix of the hash chain (see
`register.retention_targets`). Pruned by the chain's owner, with an anchor, and never replayed: a
restored backup brings back events with the anchors of its own time, so its chain verifies, and the
next sweep prunes them again. An event of a school under a whole-school legal hold stops the prune
there (the chain can only lose a prefix)."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, QuerySet

from steward.audit.models import AuditEvent
from steward.audit.selectors import prunable_through
from steward.audit.services import audit_prune
from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Deleted, Found, RetentionTarget


def _old_events(rule: RetentionRule, ctx: Context) -> list[Found]:
    cutoff = ctx.cutoff_time(rule)
    held_schools = ctx.holds.held_school_ids
    through = prunable_through(before=cutoff, keep_schools=held_schools)
    events = AuditEvent.objects.filter(id__lte=through) if through is not None else AuditEvent.objects.none()
    held = 0
    if held_schools:
        held = AuditEvent.objects.filter(occurred_at__lt=cutoff, id__gt=through or 0).count()
    return [
        Found(
            "audit events older than six years",
            f"older than {rule.period_days} days",
            [events],
            held=held,
            held_reason=ctx.holds.school_reason if held else "",
        )
    ]


def _prune(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    through = qs.aggregate(through=Max("id"))["through"]
    return Deleted(audit_prune(through_id=through).events_pruned if through is not None else 0)


TARGETS = (RetentionTarget("hosted_mis", "event_time", "audit.activity", "processor", _old_events, _prune),)
