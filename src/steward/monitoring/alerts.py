"""Turning findings into alerts: deduplicated, told to the right people, and moved through their statuses.

One open alert per (rule, subject, school, window): a finding for a window that already has an alert
adds to that alert's evidence (even a resolved one, which stays resolved: the DPO already decided
about that window), and only a new alert sends email. The email says which rule fired and links to
the alert; the person, the addresses and the records stay behind the sign-in.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.monitoring.config import evidence_cap
from steward.monitoring.models import Alert, AlertStatus
from steward.monitoring.rules import RULE_BY_NAME, Finding
from steward.notifications.email import send_email
from steward.tenancy.models import SCHOOL_ROLES, ApiClient, Membership, Organisation, User
from steward.tenancy.selectors import data_protection_emails, processor_admin_emails

NOTE_MAX = 2000
MONITORING = Actor.system("Steward monitoring")


def record_findings(findings: list[Finding]) -> list[Alert]:
    """Write or update the alert of each finding; returns the alerts created. Inside the pass's
    estate and processor scope (an alert of no school is the processor's row). Set-based: the
    schools, the open alerts and the labels of all findings are read in a few queries, and the
    alerts are written in one bulk insert and one bulk update, whatever the number of findings."""
    if not findings:
        return []
    schools = _schools_for(findings)
    targets = [(finding, school_id) for finding in findings for school_id in schools[id(finding)]]
    now = timezone.now()
    existing = _open_alerts(targets)
    changed: dict[int, Alert] = {}
    fresh: dict[tuple[str, str, int | None, dt.datetime], Alert] = {}
    for finding, school_id in targets:
        key = (finding.rule, finding.subject_key, school_id, finding.window_start)
        alert = existing.get(key) or fresh.get(key)
        if alert is not None:
            _add_evidence(alert, finding, now)
            if alert.pk:
                changed[alert.pk] = alert
            continue
        fresh[key] = Alert(
            rule=finding.rule,
            school_id=school_id,
            subject_kind=finding.subject_kind,
            subject_key=finding.subject_key,
            window_start=finding.window_start,
            window_end=finding.window_end,
            event_ids=finding.event_ids[: evidence_cap()],
            event_count=finding.event_count,
            counts=finding.counts,
            first_at=finding.first_at,
            last_at=finding.last_at,
            summary=finding.summary[:300],
            created_at=now,
            updated_at=now,
        )
    labels = subject_labels({a.subject_key for a in fresh.values()})
    for alert in fresh.values():
        alert.subject_label = labels[alert.subject_key][:300]
    created = Alert.objects.bulk_create(list(fresh.values()))
    Alert.objects.bulk_update(
        list(changed.values()),
        ["event_ids", "event_count", "counts", "first_at", "last_at", "window_end", "summary", "updated_at"],
    )
    _audit_raised(created)
    _tell(created)
    return created


def _audit_raised(created: list[Alert]) -> None:
    """One `alerts_raised` event per school (or the processor) with new alerts, by the monitoring
    itself: who was told what, and when, is in the log like any other change."""
    by_school: dict[int | None, list[int]] = {}
    for alert in created:
        by_school.setdefault(alert.school_id, []).append(alert.pk)
    # In school id order (no school first): each school's chain lock is held to the pass's commit,
    # and writers of several schools in one transaction take them in one order (DESIGN.md, "Audit chain").
    for school_id, ids in sorted(by_school.items(), key=lambda item: item[0] or 0):
        audit_action(
            MONITORING,
            action="alerts_raised",
            school_id=school_id,
            object_type="monitoring.Alert",
            object_ids=ids,
            purpose="security monitoring",
        )


def _add_evidence(alert: Alert, finding: Finding, now: dt.datetime) -> None:
    """A repeated firing: the evidence grows to what the tally now holds."""
    alert.event_ids = sorted({*alert.event_ids, *finding.event_ids})[: evidence_cap()]
    alert.event_count = max(alert.event_count, finding.event_count)
    alert.counts = {**alert.counts, **finding.counts}
    alert.first_at = min(alert.first_at, finding.first_at)
    alert.last_at = max(alert.last_at, finding.last_at)
    alert.window_end = max(alert.window_end, finding.window_end)
    alert.summary = finding.summary[:300]
    alert.updated_at = now


def _open_alerts(targets: list[tuple[Finding, int | None]]) -> dict[tuple[str, str, int | None, dt.datetime], Alert]:
    """The alerts already raised for the targets' windows (locked: two passes never write one
    window twice), newest last so the newest wins: one query."""
    found = (
        Alert.objects.select_for_update()
        .filter(
            rule__in={f.rule for f, _ in targets},
            subject_key__in={f.subject_key for f, _ in targets},
            window_start__in={f.window_start for f, _ in targets},
        )
        .order_by("id")
    )
    return {(a.rule, a.subject_key, a.school_id, a.window_start): a for a in found}


def _schools_for(findings: list[Finding]) -> dict[int, list[int | None]]:
    """Each finding's schools (by `id()` of the finding): its own school; for a person found with no
    school (a sign-in), each school they serve as staff; for a processor-wide rule, or a person of
    no school, none (the processor's alert). The people's schools are read in one query."""
    users = _user_ids({f.subject_key for f in findings if f.school_id is None})
    serving: dict[int, set[int]] = {}
    memberships = Membership.objects.filter(
        user_id__in=set(users.values()),
        role__in=list(SCHOOL_ROLES),
        organisation__kind=Organisation.Kind.SCHOOL,
        restricted_at__isnull=True,  # a restricted membership (Art. 18) grants nothing
    ).values_list("user_id", "organisation_id")
    for user_id, school_id in memberships:
        serving.setdefault(user_id, set()).add(school_id)
    result: dict[int, list[int | None]] = {}
    for finding in findings:
        if finding.school_id is not None:
            result[id(finding)] = [finding.school_id]
        elif RULE_BY_NAME[finding.rule].processor_wide or finding.subject_key not in users:
            result[id(finding)] = [None]
        else:
            result[id(finding)] = list(sorted(serving.get(users[finding.subject_key], set()))) or [None]
    return result


def _user_ids(subject_keys: set[str]) -> dict[str, int]:
    """The user of each person's subject key ("user:12", or "email:a@b" when an account has that email)."""
    found = {k: int(k.partition(":")[2]) for k in subject_keys if k.startswith("user:") and k[5:].isdigit()}
    emails = {k.partition(":")[2].lower(): k for k in subject_keys if k.startswith("email:")}
    if emails:  # the address as typed, in any case
        matched = User.objects.annotate(lowered=Lower("email")).filter(lowered__in=list(emails))
        for user_id, lowered in matched.values_list("pk", "lowered"):
            found[emails[lowered]] = user_id
    return found


def subject_label(subject_key: str) -> str:
    """Who or what the alert is about, as people read it."""
    return subject_labels({subject_key})[subject_key]


def subject_labels(subject_keys: set[str]) -> dict[str, str]:
    """The label of each subject key, with one query per kind of subject."""
    user_ids = {k: int(k[5:]) for k in subject_keys if k.startswith("user:") and k[5:].isdigit()}
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=set(user_ids.values()))}
    client_ids = {k: k.partition(":")[2] for k in subject_keys if k.startswith("client:")}
    clients = {
        c.application.client_id: str(c)
        for c in ApiClient.objects.filter(application__client_id__in=set(client_ids.values())).select_related(
            "application"
        )
    }
    labels: dict[str, str] = {}
    for key in subject_keys:
        kind, _, value = key.partition(":")
        if key in user_ids:
            labels[key] = users.get(user_ids[key], f"A deleted user ({value})")
        elif kind == "email":
            labels[key] = f"Sign-in attempts as {value}"
        elif kind == "client":
            labels[key] = f"API client {clients[value]}" if value in clients else f"API client {value}"
        elif kind == "network":
            labels[key] = f"Network {value}"
        else:
            labels[key] = key
    return labels


def _tell(alerts: list[Alert]) -> None:
    """Email each new alert to the school's DPO contacts (or the processor's admins), after the pass
    commits. Only the rule and a link: who, from where and which records are on the page behind the
    sign-in. Each school's addresses are read once."""
    addresses: dict[int | None, list[str]] = {}
    for alert in alerts:
        if alert.school_id not in addresses:
            addresses[alert.school_id] = (
                processor_admin_emails()
                if alert.school_id is None
                else data_protection_emails(school_id=alert.school_id)
            )
        rule = RULE_BY_NAME[alert.rule]
        if alert.school_id is None:
            link = settings.STEWARD_BASE_URL + reverse("backoffice:processor-alert", args=[alert.pk])
            whom = "the ICT service"
        else:
            link = settings.STEWARD_BASE_URL + reverse("backoffice:school-alert", args=[alert.pk])
            whom = "your school"
        subject = f"Steward alert: {rule.title}"
        body = (
            f"Steward's monitoring found a pattern in {whom}'s audit log that may need a look.\n\n"
            f"Rule: {rule.title}\n{rule.description}\n\n"
            f"Sign in to see the evidence, and acknowledge or resolve the alert:\n{link}\n"
        )
        for address in addresses[alert.school_id]:
            transaction.on_commit(partial(send_email, address, subject, body))


ACTIONS = {
    "acknowledge": AlertStatus.ACKNOWLEDGED,
    "resolve_expected": AlertStatus.RESOLVED_EXPECTED,
    "resolve_incident": AlertStatus.RESOLVED_INCIDENT,
}


@transaction.atomic
def alert_change(*, alert: Alert, action: str, note: str, actor: Actor) -> Alert:
    """Acknowledge or resolve an alert. Resolving needs a note (why it was expected, or what the
    incident was); a resolved alert stays resolved."""
    if action not in ACTIONS:
        raise ValidationError({"action": "Choose acknowledge, resolve as expected behaviour or resolve as an incident"})
    note = note.strip()
    # Locked and re-read: two people deciding at once take turns, and the second sees the first's
    # resolution instead of overwriting its note.
    Alert.objects.select_for_update().filter(pk=alert.pk).values_list("pk", flat=True).get()
    alert.refresh_from_db()
    if alert.resolved:
        raise ValidationError({"action": "This alert is already resolved"})
    if action.startswith("resolve") and not note:
        raise ValidationError({"note": "Enter a note saying why you are resolving the alert"})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"The note must be {NOTE_MAX} characters or fewer"})
    alert.status = ACTIONS[action]
    if note:
        alert.note = note
    alert.changed_by_label = actor.label[:200]
    alert.changed_at = timezone.now()
    alert.updated_at = alert.changed_at
    alert.save(update_fields=["status", "note", "changed_by_label", "changed_at", "updated_at"])
    audit_action(
        actor,
        action=f"alert_{action}",
        school_id=alert.school_id,
        object_type="monitoring.Alert",
        object_ids=[alert.pk],
        purpose="security monitoring",
    )
    return alert


__all__ = ["alert_change", "record_findings", "subject_label"]
