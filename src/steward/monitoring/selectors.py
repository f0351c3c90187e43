"""What the back office reads: a school's alerts (inside its scope), the processor's, one alert's evidence."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from steward.monitoring.models import Alert, AlertStatus, Breach
from steward.register.labels import action_label, model_label
from steward.tenancy.scope import current_school_ids, processor_scope


def school_alerts(*, school_id: int, status: str = "") -> QuerySet[Alert]:
    """The school's alerts, newest first (the tenant scope and row-level security keep it to the school)."""
    current_school_ids()  # fail closed outside a scope
    alerts = Alert.objects.filter(school_id=school_id)
    return alerts.filter(status=status) if status else alerts


def school_alert(*, school_id: int, alert_id: int) -> Alert | None:
    current_school_ids()
    return Alert.objects.filter(school_id=school_id, pk=alert_id).first()


def all_alerts(*, status: str = "") -> QuerySet[Alert]:
    """Every alert, for the processor's administrators: call inside estate and processor scope."""
    alerts = Alert.objects.select_related("school")
    return alerts.filter(status=status) if status else alerts


def open_count(*, school_id: int) -> int:
    return Alert.objects.filter(school_id=school_id, status=AlertStatus.OPEN).count()


def breach_of(alert: Alert) -> Breach | None:
    return Breach.objects.filter(alert=alert).first()


def evidence(alert: Alert) -> list[dict[str, Any]]:
    """The alert's evidence events as rows for the page (time, action, who, what, from where).

    Sign-in events belong to no school, so a school's scope alone would hide the failed sign-ins
    against its own staff's accounts: the evidence is read in the processor scope, but only the
    events the alert names (the alert itself was read in the caller's scope) and only those of the
    alert's school or of no school."""
    if not alert.event_ids:
        return []
    with processor_scope(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, occurred_at, action, coalesce(nullif(actor_label, ''), actor_client), object_type, "
            "cardinality(object_ids), host(ip_address) FROM audit_auditevent WHERE id = ANY(%s) "
            "AND (school_id IS NULL OR school_id = %s OR %s IS NULL) ORDER BY id",
            [list(alert.event_ids), alert.school_id, alert.school_id],
        )
        return [
            {
                "id": r[0],
                "at": r[1],
                "action": action_label(r[2]),
                "who": r[3],
                "record_type": model_label(r[4]) if r[4] else "",
                "records": r[5],
                "ip": r[6] or "",
            }
            for r in cursor.fetchall()
        ]
