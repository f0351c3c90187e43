"""The parent portal's retention rule and its rows at a school's contract termination (see
`register.retention_targets`).

Closed accounts go some days after closing, with their notifications, links and push subscriptions;
an account linked to a held school, or standing for a contact under a legal hold, is kept. An account
belongs to no one school, so the rule is the processor's, read across every school's holds. At a
termination the portal deletes the school's links, and the accounts no other school links any more.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from steward.portal.models import ParentAccount, ParentLink, PortalNotification
from steward.register.models import RetentionRule
from steward.register.retention_targets import Context, Deleted, Found, Holds, RetentionTarget, SchoolRows
from steward.tenancy.scope import processor_scope


def _held_links(holds: Holds) -> Q:
    """Links at a school under a whole-school hold, or of a contact under a subject hold."""
    condition = Q(school_id__in=holds.held_school_ids)
    for school_id, source_ids in holds.subjects("contacts").items():
        condition |= Q(school_id=school_id, contact_source_id__in=source_ids)
    return condition


def _closed_accounts(rule: RetentionRule, ctx: Context) -> list[Found]:
    closed = ParentAccount.objects.filter(closed_at__lt=ctx.cutoff_time(rule))
    held = closed.filter(Exists(ParentLink.objects.filter(parent=OuterRef("pk")).filter(_held_links(ctx.holds))))
    held_count = held.count()
    return [
        Found(
            "closed parent portal accounts",
            f"closed more than {rule.period_days} days ago",
            [closed.exclude(pk__in=held.values("pk"))],
            held=held_count,
            held_reason="; ".join(ctx.holds.all_reasons) if held_count else "",
        )
    ]


def _delete_accounts(accounts: QuerySet[Any]) -> list[str]:
    """Notifications first, raw (they are many and nothing refers to them), then the accounts through
    the ORM, for the links and push subscriptions that cascade."""
    notifications = PortalNotification.objects.filter(parent__in=accounts.values("pk"))
    notifications._raw_delete(notifications.db)
    ids = [str(pk) for pk in accounts.values_list("pk", flat=True)]
    accounts.delete()
    return ids


def _delete(qs: QuerySet[Any], school_id: int | None) -> Deleted:
    ids = _delete_accounts(qs)
    return Deleted(len(ids), "rows", ParentAccount._meta.db_table, ids)


def _replay(kind: str, target: str, ids: list[str], school_id: int | None) -> bool:
    if kind != "rows" or target != ParentAccount._meta.db_table:
        return False
    _delete_accounts(ParentAccount.objects.filter(pk__in=[int(i) for i in ids]))
    return True


def _purge_school(school_id: int) -> dict[str, int]:
    """Under the processor scope: an account is an orphan only if it has no link at any school, and
    the school's scope alone would hide its links elsewhere (deleting it would then fail)."""
    deleted: dict[str, int] = {}
    with processor_scope():
        had_links = list(ParentLink.objects.filter(school_id=school_id).values_list("parent_id", flat=True))
        deleted[ParentLink._meta.db_table] = ParentLink.objects.filter(school_id=school_id).delete()[0]
        orphans = ParentAccount.objects.filter(pk__in=had_links, links__isnull=True)
        deleted[ParentAccount._meta.db_table] = orphans.count()
        orphans.delete()
    return deleted


def _left_at_school(school_id: int) -> dict[str, int]:
    return {ParentLink._meta.db_table: ParentLink.objects.filter(school_id=school_id).count()}


TARGETS = (RetentionTarget("parent_portal", "account_closed", None, "processor", _closed_accounts, _delete, _replay),)
SCHOOL_ROWS = SchoolRows("portal", _purge_school, _left_at_school)
