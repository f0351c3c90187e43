"""A breach record started from an alert resolved as an incident.

Who and what it touched is computed from the audit log, not typed: the records the alert's subject
read at the school within the alert's window (distinct record ids per record type), and each record
type's categories from the register's classification of its model. The 72-hour clock for telling the
ICO (UK GDPR Art. 33) runs from `aware_at`, which the school sets (by default, when the alert was resolved).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.monitoring.config import rule_settings
from steward.monitoring.models import Alert, AlertStatus, Breach, IcoDecision
from steward.register.classification import PersonalData
from steward.register.labels import category_label, model_label

TEXT_MAX = 5000
PEOPLE_SHOWN = 500
# Distinct records read per record type by one actor at one school in a window (`{actor}` is one
# of two constant conditions). The actions are the ones the read rules count: views and searches,
# and every export the exports rule watches (its setting), so the two never drift apart.
_READS = """
SELECT object_type, array_agg(DISTINCT oid ORDER BY oid)
  FROM audit_auditevent, unnest(object_ids) AS oid
 WHERE school_id = %s AND {actor} AND occurred_at >= %s AND occurred_at < %s
   AND object_type <> '' AND action = ANY(%s)
 GROUP BY object_type ORDER BY object_type
"""
# Rules whose evidence is a sign-in: what matters is what was read after it, until the alert was
# decided (not the sign-in's own instant, which reads nothing).
_SIGN_IN_RULES = frozenset({"brute_force", "impossible_travel", "new_country"})


def _read_window(alert: Alert) -> tuple[dt.datetime, dt.datetime]:
    if alert.rule in _SIGN_IN_RULES:
        return alert.window_start, alert.changed_at or timezone.now()
    return alert.window_start, alert.window_end


def affected(alert: Alert) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(categories with people counts, records by type, approximate number of people) from the evidence."""
    kind, _, value = alert.subject_key.partition(":")
    if alert.school_id is None or kind not in ("user", "client"):
        return [], [], 0
    actor = "actor_user_id = %s" if kind == "user" else "actor_client = %s"
    start, end = _read_window(alert)
    actions = ["view", "search", *rule_settings("exports")["actions"]]
    with connection.cursor() as cursor:
        cursor.execute(
            _READS.replace("{actor}", actor),
            [alert.school_id, int(value) if kind == "user" else value, start, end, actions],
        )
        by_type = cursor.fetchall()
    people: list[dict[str, Any]] = []
    categories: dict[str, int] = {}
    for object_type, ids in by_type:
        people.append(
            {
                "record_type": object_type,
                "label": model_label(object_type),
                "ids": ids[:PEOPLE_SHOWN],
                "count": len(ids),
            }
        )
        for code in _categories_of(object_type):
            categories[code] = max(categories.get(code, 0), len(ids))
    listed = [{"code": c, "name": category_label(c), "people": n} for c, n in sorted(categories.items())]
    estimate = max((p["count"] for p in people), default=0)
    return listed, people, estimate


def _categories_of(object_type: str) -> list[str]:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return []
    privacy = getattr(model, "privacy", None)
    return sorted(privacy.categories()) if isinstance(privacy, PersonalData) else []


def breach_start(*, alert: Alert, what_happened: str, aware_at: dt.datetime | None, actor: Actor) -> Breach:
    """Start the breach record of an alert resolved as an incident (one per alert)."""
    if alert.status != AlertStatus.RESOLVED_INCIDENT:
        raise ValidationError({"alert": "Only an alert resolved as an incident can start a breach record"})
    if alert.school_id is None:
        raise ValidationError({"alert": "A breach record belongs to a school: this alert has none"})
    if Breach.objects.filter(alert=alert).exists():
        raise ValidationError({"alert": "This alert already has a breach record"})
    what = _text(what_happened, "what_happened", "Enter what happened")
    categories, people, estimate = affected(alert)
    now = timezone.now()
    breach: Breach = Breach.objects.create(
        school_id=alert.school_id,
        alert=alert,
        what_happened=what,
        aware_at=aware_at or alert.changed_at or now,
        categories=categories,
        people=people,
        people_estimate=estimate,
        created_by_label=actor.label[:200],
        created_at=now,
        updated_at=now,
    )
    _audit(actor, breach, "breach_recorded")
    return breach


def breach_update(
    *, breach: Breach, what_happened: str, aware_at: dt.datetime, ico_decision: str, ico_reason: str, actor: Actor
) -> Breach:
    if ico_decision not in IcoDecision.values:
        raise ValidationError({"ico_decision": "Choose whether the ICO must be told"})
    breach.what_happened = _text(what_happened, "what_happened", "Enter what happened")
    reason = ico_reason.strip()
    if ico_decision != IcoDecision.UNDECIDED and not reason:
        raise ValidationError({"ico_reason": "Enter the reason for the decision about telling the ICO"})
    if len(reason) > TEXT_MAX:
        raise ValidationError({"ico_reason": f"The reason must be {TEXT_MAX} characters or fewer"})
    if aware_at > timezone.now():
        raise ValidationError({"aware_at": "The time you became aware must be in the past"})
    breach.aware_at = aware_at
    breach.ico_decision = ico_decision
    breach.ico_reason = reason
    breach.updated_at = timezone.now()
    breach.save()
    _audit(actor, breach, "breach_updated")
    return breach


def time_left(breach: Breach, now: dt.datetime | None = None) -> dt.timedelta:
    return breach.ico_deadline - (now or timezone.now())


def _text(value: str, field: str, missing: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError({field: missing})
    if len(value) > TEXT_MAX:
        raise ValidationError({field: f"Must be {TEXT_MAX} characters or fewer"})
    return value


def _audit(actor: Actor, breach: Breach, action: str) -> None:
    audit_action(
        actor,
        action=action,
        school_id=breach.school_id,
        object_type="monitoring.Breach",
        object_ids=[breach.pk],
        purpose="personal data breach record",
    )
