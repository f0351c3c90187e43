"""The data exchange's retention rule: disclosure log entries older than its period (see
`register.retention_targets`). An entry that names a subject under a legal hold is kept and counted."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Found, Holds, RetentionTarget, delete_rows, hold_apart
from steward.sharing.models import Disclosure


def _held_rows(model: type[Any], holds: Holds) -> Q:
    """A disclosure is held when any subject of its school it released is."""
    return holds.subject_rows("subject_ids", overlap=True)


def _old_disclosures(rule: RetentionRule, ctx: Context) -> list[Found]:
    old = Disclosure.objects.filter(at__date__lt=ctx.cutoff(rule))
    found = Found("disclosure log entries", f"older than {rule.period_days} days", [old])
    return [hold_apart(found, ctx.holds, _held_rows)]


TARGETS = (RetentionTarget("data_exchange", "event_time", None, "school", _old_disclosures, delete_rows),)
