"""Summary-only notifications to parents when the MIS sends new homework, behaviour, achievement
or attendance events.

After a batch commits, `notify_new_records` finds the rows that batch inserted (their
`created_at` is the batch transaction's time), keeps the kinds whose portal item the school has
switched on, follows learner → contact with parental responsibility → portal link → account, and
keeps the accounts that asked for that kind. Each parent gets one message per kind and child per
batch ("New homework for Sam"): never the title, comments, marks or points. Email goes through
Django's mail backend (SMTP or GOV.UK Notify), push through Web Push; each message is logged in
`PortalNotification`, which also stops a record from being notified twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from steward.mis.attendance import ATTENDED_MARKS, NOT_POSSIBLE_MARKS
from steward.mis.models import (
    Achievement,
    Behaviour,
    GroupEnrolment,
    Homework,
    Learner,
    LearnerContact,
    SessionAttendance,
)
from steward.mis.names import known_forename
from steward.mis.selectors import enrolments_on_roll
from steward.notifications.push import send_push
from steward.portal.items import ITEMS_BY_CODE, NOTIFICATION_ITEM
from steward.portal.models import ParentAccount, ParentLink, PortalNotification, PushSubscription
from steward.portal.selectors import school_settings
from steward.tenancy.scope import tenant_scope

# The record types whose new rows notify, by kind (the batch hook reads it to skip other batches).
KIND_RECORD_TYPES = {
    "homework": Homework.record_type,
    "behaviour": Behaviour.record_type,
    "achievement": Achievement.record_type,
    "attendance": SessionAttendance.record_type,
}

_PHRASES = {
    "homework": ("New homework for {name}", "{n} new homework tasks for {name}"),
    "behaviour": ("New behaviour event for {name}", "{n} new behaviour events for {name}"),
    "achievement": ("New achievement for {name}", "{n} new achievements for {name}"),
    "attendance": ("Attendance update for {name}", "Attendance updates for {name}"),
}


@dataclass(frozen=True)
class Message:
    parent_id: int
    kind: str
    learner_source_id: str
    record_source_id: str
    summary: str


def summary(kind: str, name: str, count: int) -> str:
    one, many = _PHRASES[kind]
    return (one if count == 1 else many).format(name=name, n=count)


def _new_events(kind: str, school_id: int, since: dt.datetime) -> list[tuple[str, str]]:
    """(learner source id, record source id) of the rows inserted at or after `since`."""
    if kind == "homework":
        by_group: dict[str, list[str]] = defaultdict(list)
        for group, source in Homework.objects.filter(school_id=school_id, created_at__gte=since).values_list(
            "group_source_id", "source_id"
        ):
            by_group[group].append(source)
        if not by_group:
            return []
        today = timezone.localdate()
        enrolled = (
            GroupEnrolment.objects.filter(school_id=school_id, group_source_id__in=list(by_group))
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
            .values_list("learner_source_id", "group_source_id")
        )
        return [(learner, source) for learner, group in enrolled for source in by_group[group]]
    rows: QuerySet[Any]
    if kind == "behaviour":
        rows = Behaviour.objects.filter(school_id=school_id, created_at__gte=since)
    elif kind == "achievement":
        rows = Achievement.objects.filter(school_id=school_id, created_at__gte=since)
    else:
        rows = (
            SessionAttendance.objects.filter(school_id=school_id, created_at__gte=since)
            .exclude(mark__in=NOT_POSSIBLE_MARKS)
            .filter(Q(mark="L") | ~Q(mark__in=ATTENDED_MARKS))
        )
    return list(rows.values_list("learner_source_id", "source_id"))


def plan_messages(school_id: int, since: dt.datetime) -> list[Message]:
    """Who gets which summary for the rows inserted since `since` (call inside the school's scope)."""
    switches = school_settings(school_id)
    events: dict[str, list[tuple[str, str]]] = {}
    for kind, item_code in NOTIFICATION_ITEM.items():
        switch = ITEMS_BY_CODE[item_code].switch
        if switch is None or getattr(switches, switch):
            found = _new_events(kind, school_id, since)
            if found:
                events[kind] = found
    if not events:
        return []
    learners = {source for found in events.values() for source, _ in found}
    on_roll = set(
        enrolments_on_roll(school_id).filter(learner_source_id__in=learners).values_list("learner_source_id", flat=True)
    )
    names = {
        learner.source_id: known_forename(learner)
        for learner in Learner.objects.filter(school_id=school_id, source_id__in=on_roll).only(
            "source_id", "preferred_forename", "legal_forename"
        )
    }
    contacts: dict[str, set[str]] = defaultdict(set)
    for learner, contact in LearnerContact.objects.filter(
        school_id=school_id, learner_source_id__in=list(names), parental_responsibility=True
    ).values_list("learner_source_id", "contact_source_id"):
        contacts[learner].add(contact)
    accounts: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    for contact, parent_id, kinds in ParentLink.objects.filter(
        school_id=school_id,
        contact_source_id__in={c for cs in contacts.values() for c in cs},
        restricted_at__isnull=True,
        parent__is_active=True,
        parent__closed_at__isnull=True,
    ).values_list("contact_source_id", "parent_id", "parent__notify_kinds"):
        accounts[contact].append((parent_id, kinds))
    # Sent before: looked up by the records themselves, not by a time window, which would compare
    # the log's Python-clock stamps with the batch's PostgreSQL `now()`.
    records = {record for found in events.values() for _, record in found}
    already = set(
        PortalNotification.objects.filter(school_id=school_id, record_source_id__in=records).values_list(
            "parent_id", "kind", "learner_source_id", "record_source_id"
        )
    )
    grouped: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for kind, found in events.items():
        for learner, record in found:
            if learner not in names:
                continue
            for contact in contacts[learner]:
                for parent_id, kinds in accounts[contact]:
                    if kind in kinds and (parent_id, kind, learner, record) not in already:
                        grouped[(parent_id, kind, learner)].append(record)
    return [
        Message(parent_id, kind, learner, sorted(records)[0], summary(kind, names[learner], len(set(records))))
        for (parent_id, kind, learner), records in sorted(grouped.items())
    ]


def notify_new_records(school_id: int, since: dt.datetime) -> list[PortalNotification]:
    """Plan, log and send the summaries for one school's batch. Returns what was logged."""

    with tenant_scope([school_id]):
        messages = plan_messages(school_id, since)
        if not messages:
            return []
        parents = ParentAccount.objects.in_bulk({m.parent_id for m in messages})
        subscriptions: dict[int, list[PushSubscription]] = defaultdict(list)
        for sub in PushSubscription.objects.filter(parent_id__in=[p.pk for p in parents.values() if p.notify_by_push]):
            subscriptions[sub.parent_id].append(sub)
        base_url = django_settings.STEWARD_BASE_URL.rstrip("/")
        emails, logged = [], []
        for message in messages:
            parent = parents[message.parent_id]
            channels = []
            if parent.notify_by_email:
                body = f"{message.summary}.\n\nSign in to the parent portal to see it: {base_url}/portal/\n"
                emails.append(EmailMessage(subject=message.summary, body=body, to=[parent.email]))
                channels.append("email")
            gone = []
            for sub in subscriptions.get(parent.pk, []):
                payload = {"title": "Parent portal", "body": message.summary, "url": f"{base_url}/portal/"}
                result = send_push(
                    {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}, payload
                )
                if result.delivered and "push" not in channels:
                    channels.append("push")
                if result.gone:
                    gone.append(sub.pk)
            if gone:
                PushSubscription.objects.filter(pk__in=gone).delete()
            logged.append(
                PortalNotification(
                    school_id=school_id,
                    parent_id=parent.pk,
                    kind=message.kind,
                    learner_source_id=message.learner_source_id,
                    record_source_id=message.record_source_id,
                    summary=message.summary,
                    channels=channels,
                )
            )
        PortalNotification.objects.bulk_create(logged, ignore_conflicts=True)
    if emails:
        get_connection().send_messages(emails)
    return logged
