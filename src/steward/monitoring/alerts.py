"""Turning findings into alerts: deduplicated, told to the right people, and moved through their statuses.

One open alert per (rule, subject, school, window): a finding for a window that already has an alert
adds to that alert's evidence (even a resolved one, which stays resolved: the DPO already decided
about that window), and only a new alert sends email. The email says which rule fired and links to
the alert; the person, the addresses and the records stay behind the sign-in.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.monitoring.config import evidence_cap
from steward.monitoring.models import Alert, AlertStatus
from steward.monitoring.rules import RULE_BY_NAME, Finding
from steward.notifications.email import send_email
from steward.tenancy.models import SCHOOL_ROLES, ApiClient, Membership, Organisation, Role, User
from steward.tenancy.selectors import data_protection_emails

NOTE_MAX = 2000


def record_findings(findings: list[Finding]) -> list[Alert]:
    """Write or update the alert of each finding; returns the alerts created. Inside the pass's
    estate and processor scope (an alert of no school is the processor's row)."""
    created: list[Alert] = []
    for finding in findings:
        for school_id in _schools_for(finding):
            alert, is_new = _upsert(finding, school_id)
            if is_new:
                created.append(alert)
                _tell(alert)
    return created


def _schools_for(finding: Finding) -> list[int | None]:
    """The finding's school; for a person found with no school (a sign-in), each school they serve
    as staff; for a processor-wide rule, or a person of no school, none (the processor's alert)."""
    if finding.school_id is not None:
        return [finding.school_id]
    if RULE_BY_NAME[finding.rule].processor_wide:
        return [None]
    user_id = _user_id(finding.subject_key)
    if user_id is None:
        return [None]
    schools = sorted(
        set(
            Membership.objects.filter(
                user_id=user_id,
                role__in=list(SCHOOL_ROLES),
                organisation__kind=Organisation.Kind.SCHOOL,
                restricted_at__isnull=True,  # a restricted membership (Art. 18) grants nothing
            ).values_list("organisation_id", flat=True)
        )
    )
    return list(schools) or [None]


def _user_id(subject_key: str) -> int | None:
    kind, _, value = subject_key.partition(":")
    if kind == "user" and value.isdigit():
        return int(value)
    if kind == "email":
        return User.objects.filter(email__iexact=value).values_list("pk", flat=True).first()
    return None


def subject_label(subject_key: str) -> str:
    """Who or what the alert is about, as people read it."""
    kind, _, value = subject_key.partition(":")
    if kind == "user" and value.isdigit():
        user = User.objects.filter(pk=int(value)).first()
        return str(user) if user else f"A deleted user ({value})"
    if kind == "email":
        return f"Sign-in attempts as {value}"
    if kind == "client":
        client = ApiClient.objects.filter(application__client_id=value).first()
        return f"API client {client}" if client else f"API client {value}"
    if kind == "network":
        return f"Network {value}"
    return subject_key


def _upsert(finding: Finding, school_id: int | None) -> tuple[Alert, bool]:
    now = timezone.now()
    existing = (
        Alert.objects.select_for_update()
        .filter(
            rule=finding.rule,
            subject_key=finding.subject_key,
            school_id=school_id,
            window_start=finding.window_start,
        )
        .order_by("-id")
        .first()
    )
    if existing is not None:
        # A repeated firing: the evidence grows to what the tally now holds.
        existing.event_ids = sorted({*existing.event_ids, *finding.event_ids})[: evidence_cap()]
        existing.event_count = max(existing.event_count, finding.event_count)
        existing.counts = {**existing.counts, **finding.counts}
        existing.first_at = min(existing.first_at, finding.first_at)
        existing.last_at = max(existing.last_at, finding.last_at)
        existing.window_end = max(existing.window_end, finding.window_end)
        existing.summary = finding.summary[:300]
        existing.updated_at = now
        existing.save()
        return existing, False
    alert = Alert.objects.create(
        rule=finding.rule,
        school_id=school_id,
        subject_kind=finding.subject_kind,
        subject_key=finding.subject_key,
        subject_label=subject_label(finding.subject_key)[:300],
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
    return alert, True


def processor_admin_emails() -> list[str]:
    emails = Membership.objects.filter(
        role=Role.PROCESSOR_ADMIN,
        organisation__kind=Organisation.Kind.PROCESSOR,
        user__is_active=True,
        restricted_at__isnull=True,
    ).values_list("user__email", flat=True)
    return sorted({e.lower() for e in emails if e})


def _tell(alert: Alert) -> None:
    """Email the school's DPO contacts (or the processor's admins), after the pass commits. Only the
    rule and a link: who, from where and which records are on the page behind the sign-in."""
    rule = RULE_BY_NAME[alert.rule]
    if alert.school_id is None:
        to = processor_admin_emails()
        link = settings.STEWARD_BASE_URL + reverse("backoffice:processor-alert", args=[alert.pk])
        whom = "the ICT service"
    else:
        to = data_protection_emails(school_id=alert.school_id)
        link = settings.STEWARD_BASE_URL + reverse("backoffice:school-alert", args=[alert.pk])
        whom = "your school"
    subject = f"Steward alert: {rule.title}"
    body = (
        f"Steward's monitoring found a pattern in {whom}'s audit log that may need a look.\n\n"
        f"Rule: {rule.title}\n{rule.description}\n\n"
        f"Sign in to see the evidence, and acknowledge or resolve the alert:\n{link}\n"
    )
    for address in to:
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
