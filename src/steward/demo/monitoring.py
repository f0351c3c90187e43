"""The demo's monitoring: a few weeks of sign-ins and reading written to the audit log, then a real
detection pass, so the alerts pages have something true to show.

Every event goes through `audit.services.audit_record`, as the back office writes it (the hash
chain verifies), with its time given relative to the moment the demo is loaded: the last school
day (the last weekday before today) and the weeks before it, never a fixed date. The alerts are
the real rules' (`monitoring.detection.detection_pass`), told by email as any alert is; one is then
resolved as expected behaviour and one as an incident with a breach record, through the services
the alert and breach pages call (`monitoring.alerts.alert_change`, `monitoring.breach.breach_start`).

What is left open, for the reader to decide:
- password spraying (the ICT service's "All alerts"): failed sign-ins to 14 accounts, the demo's
  staff and guessed addresses, from four addresses of one foreign /24, a few hours before loading;
- impossible travel (Riverside Academy): its business manager signs in at school in the UK on the
  last school day, then from the United States 75 minutes later;
- bulk reading (Riverside Academy): its exams officer, who reads twenty-odd pupils' records a day,
  opens 200 in one hour that afternoon.

Resolved: the business manager's first sign-in from the United States a month ago (annual leave:
expected behaviour, with a note by Riverside's DPO); Meadowbank's business manager's account left
signed in over lunch on the last school day, used to open pupils' and parents' records (an
incident, with a breach record whose 72-hour ICO clock starts when the demo is loaded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_record
from steward.demo.loader import DEFAULT_BASE_URL
from steward.mis.models import Contact, Learner, SchoolEnrolment
from steward.monitoring.alerts import alert_change
from steward.monitoring.breach import breach_start
from steward.monitoring.config import rule_settings
from steward.monitoring.detection import detection_pass
from steward.monitoring.models import Alert, AlertStatus
from steward.monitoring.rules import RULE_BY_NAME
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope

LONDON = ZoneInfo("Europe/London")
# Public addresses the offline database (geoip2fast, through core.geoip) places; none is a
# documentation range, which it would not place at all.
RIVERSIDE_NETWORK = "81.2.69.142"  # GB: the academy's broadband
MEADOWBANK_NETWORK = "86.128.10.20"  # GB: the primary's broadband
HOLIDAY = "73.15.10.20"  # US: a hotel's connection
STOLEN = "45.33.10.20"  # US: a rented cloud server
SPRAYERS = ("185.220.101.23", "185.220.101.24", "185.220.101.87", "185.220.101.131")  # DE: one /24
GUESSED = (
    "head@primary.demo-school.invalid",
    "office@primary.demo-school.invalid",
    "bursar@secondary.demo-school.invalid",
    "headteacher@secondary.demo-school.invalid",
    "office@special.demo-school.invalid",
    "it@demo-county.invalid",
)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SCRIPT = "python-requests/2.32.3"
BULK_RECORDS = 200  # the exams officer's hour: over the hourly floor (150), far over their usual
INCIDENT_WEIGHT = 250  # the records read on Meadowbank's unlocked laptop: over 150 an hour, under 400 a day
SIGN_IN = {"two_factor": "totp", "enrolled_now": False}
EXPECTED_NOTE = (
    "Our business manager was on annual leave in the United States and checked her email from the hotel. "
    "She confirmed by phone that it was her; her sign-ins from there stopped when she came home."
)
INCIDENT_NOTE = (
    "The business manager's laptop was left signed in at reception over lunch. A visiting contractor "
    "opened pupils' and parents' records one after another. Her sessions are ended and her password is changed."
)
WHAT_HAPPENED = (
    "On {day} the business manager's laptop was left unlocked and signed in to Steward at reception "
    "between 12:00 and 13:00. A contractor waiting there opened pupils' records one after another, then "
    "parents', with their addresses and phone numbers. The contractor says nothing was copied; the school has asked "
    "for that in writing. Staff are reminded to lock their screens; the laptop now locks after five minutes."
)


@transaction.atomic
def load_demo_monitoring(schools: list[Organisation], staff: dict[str, User], exams_officer: User) -> dict[str, Any]:
    """Write the story, run a detection pass, decide two alerts; return what goes under
    "monitoring" in the credentials file.

    `schools` are primary, secondary and special in that order; `staff` maps "<key>-admin" and
    "<key>-dpo" to the schools' users and "processor-admin", "processor-support" to the ICT service's."""
    primary, secondary, _special = schools
    now = timezone.now()
    today = timezone.localdate(now)
    day = last_school_day(today)
    _spraying(now, staff)
    _business_manager(secondary, staff["secondary-admin"], today, day)
    _exams_officer(secondary, exams_officer, day)
    _left_signed_in(primary, staff["primary-admin"], day)
    detection_pass()
    with estate_scope(), processor_scope():
        holiday = _one("new_country", secondary, staff["secondary-admin"])
        incident = _one("bulk_reads_hour", primary, staff["primary-admin"])
    with tenant_scope([secondary.id]):
        alert_change(
            alert=holiday,
            action="resolve_expected",
            note=EXPECTED_NOTE,
            actor=Actor.of_user(staff["secondary-dpo"], organisation_id=secondary.id),
        )
    with tenant_scope([primary.id]):
        dpo = Actor.of_user(staff["primary-dpo"], organisation_id=primary.id)
        alert_change(alert=incident, action="resolve_incident", note=INCIDENT_NOTE, actor=dpo)
        breach = breach_start(
            alert=incident,
            what_happened=WHAT_HAPPENED.format(day=f"{day:%A} {day.day} {day:%B}"),
            aware_at=None,
            actor=dpo,
        )
    return _described(breach.ico_deadline, breach.people_estimate, incident)


def last_school_day(today: dt.date) -> dt.date:
    """The last weekday before `today` (a Friday on a Saturday, Sunday or Monday)."""
    day = today - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def weekdays_before(day: dt.date, count: int) -> list[dt.date]:
    """The `count` weekdays before `day`, oldest first."""
    days: list[dt.date] = []
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """That wall-clock time in England on `day`."""
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=LONDON)


def _spraying(now: dt.datetime, staff: dict[str, User]) -> None:
    """One password tried against the demo's staff and guessed addresses, from four addresses of one
    network, two minutes apart, inside one clock hour that began two to three hours before loading."""
    start = (now - dt.timedelta(hours=3)).replace(minute=4, second=0, microsecond=0)
    emails = [user.email for user in staff.values()] + list(GUESSED)
    with tenant_scope([]):
        for n, email in enumerate(sorted(set(emails))):
            audit_record(
                action="sign_in_failed",
                ip_address=SPRAYERS[n % len(SPRAYERS)],
                user_agent=SCRIPT,
                detail={"email": email, "reason": "wrong email or password"},
                occurred_at=start + dt.timedelta(minutes=2 * n),
            )


def _sign_in(user: User, when: dt.datetime, ip: str) -> None:
    """A successful sign-in as `backoffice.auth.signed_in` audits it (no school chosen yet)."""
    with tenant_scope([]):
        audit_record(
            action="sign_in",
            actor_user_id=user.pk,
            actor_label=str(user),
            ip_address=ip,
            user_agent=BROWSER,
            detail=dict(SIGN_IN),
            occurred_at=when,
        )


def _views(
    user: User,
    school: Organisation,
    object_type: str,
    ids: list[str] | list[list[str]],
    start: dt.datetime,
    gap: dt.timedelta,
    ip: str,
) -> None:
    """One record page after another, each audited as `backoffice.views.records` audits it: an
    id is one page naming one record, a list of ids one page naming those records."""
    with tenant_scope([school.id]):
        for n, shown in enumerate(ids):
            audit_record(
                action="view",
                actor_user_id=user.pk,
                actor_label=str(user),
                organisation_id=school.id,
                school_id=school.id,
                object_type=object_type,
                object_ids=shown if isinstance(shown, list) else [shown],
                purpose="school administration",
                ip_address=ip,
                user_agent=BROWSER,
                occurred_at=start + gap * n,
            )


def _business_manager(school: Organisation, manager: User, today: dt.date, day: dt.date) -> None:
    """Riverside's business manager signs in at school each morning; a month ago she signed in from
    the United States for three days (annual leave); on the last school day she signs in at school
    at 08:05 and someone else, with her password, signs in from the United States at 09:20."""
    away = {today - dt.timedelta(days=n) for n in range(27, 32)}
    for morning in weekdays_before(day, 30):
        if morning not in away:
            _sign_in(manager, at(morning, 8, 5 + morning.day % 7), RIVERSIDE_NETWORK)
    for n in (30, 29, 28):
        _sign_in(manager, at(today - dt.timedelta(days=n), 14, 30 + n % 5), HOLIDAY)
    _sign_in(manager, at(day, 8, 5), RIVERSIDE_NETWORK)
    _sign_in(manager, at(day, 9, 20), STOLEN)


def _exams_officer(school: Organisation, officer: User, day: dt.date) -> None:
    """Two weeks of ordinary reading (a dozen pupils in the morning, eight after lunch), then 200
    pupils' records between 15:05 and 15:45 on the last school day."""
    with tenant_scope([school.id]):
        learners = list(Learner.objects.filter(school=school).order_by("source_id").values_list("source_id", flat=True))
    if len(learners) < BULK_RECORDS:
        raise RuntimeError(f"{school.name} has {len(learners)} learners, fewer than the demo's {BULK_RECORDS}")
    _over_the_floor(BULK_RECORDS, school)
    few = _rotating(learners, 20)
    second = dt.timedelta(seconds=1)
    for morning in weekdays_before(day, 10):
        _sign_in(officer, at(morning, 8, 30), RIVERSIDE_NETWORK)
        _views(officer, school, "mis.Learner", next(few)[:12], at(morning, 10, 0), 90 * second, RIVERSIDE_NETWORK)
        _views(officer, school, "mis.Learner", next(few)[:8], at(morning, 14, 0), 120 * second, RIVERSIDE_NETWORK)
    _sign_in(officer, at(day, 8, 30), RIVERSIDE_NETWORK)
    _views(officer, school, "mis.Learner", next(few)[:12], at(day, 10, 0), 90 * second, RIVERSIDE_NETWORK)
    _views(officer, school, "mis.Learner", learners[:BULK_RECORDS], at(day, 15, 5), 12 * second, RIVERSIDE_NETWORK)


def _left_signed_in(school: Organisation, manager: User, day: dt.date) -> None:
    """Meadowbank's business manager looks up a few pupils most days; on the last school day her
    session, left open at reception, opens one pupil's record page after another, then parents',
    between 12:10 and 12:50, each page audited per record type it shows (the person, and a pupil's
    enrolments), as the record page audits it. It stops at records worth `INCIDENT_WEIGHT`: over the
    hourly floor, under the daily one, whatever the size of the day's generated school."""
    with tenant_scope([school.id]):
        learners = list(Learner.objects.filter(school=school).order_by("source_id").values_list("source_id", flat=True))
        contacts = list(Contact.objects.filter(school=school).order_by("source_id").values_list("source_id", flat=True))
        enrolments = _by(SchoolEnrolment.objects.filter(school=school).values_list("learner_source_id", "source_id"))
    every: list[list[tuple[str, list[str]]]] = [
        [("mis.Learner", [sid]), ("mis.SchoolEnrolment", enrolments.get(sid, []))] for sid in learners
    ] + [[("mis.Contact", [sid])] for sid in contacts]
    pages: list[list[tuple[str, list[str]]]] = []
    weight = 0
    for page in every:
        if weight >= INCIDENT_WEIGHT:
            break
        pages.append(page)
        weight += sum(len(ids) for _, ids in page)
    _over_the_floor(weight, school)
    few = _rotating(learners, 5)
    second = dt.timedelta(seconds=1)
    for morning in weekdays_before(day, 10):
        _sign_in(manager, at(morning, 7, 55), MEADOWBANK_NETWORK)
        _views(manager, school, "mis.Learner", next(few), at(morning, 11, 0), 60 * second, MEADOWBANK_NETWORK)
    _sign_in(manager, at(day, 7, 55), MEADOWBANK_NETWORK)
    gap = dt.timedelta(seconds=2400) / max(len(pages), 1)  # forty minutes for the lot
    for n, page in enumerate(pages):
        for object_type, ids in page:
            if ids:
                _views(manager, school, object_type, [ids], at(day, 12, 10) + gap * n, gap, MEADOWBANK_NETWORK)


def _by(pairs: Any) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _over_the_floor(records: int, school: Organisation) -> None:
    """A loud stop if the demo's MIS data shrank below what the hourly rule needs to fire."""
    floor = int(rule_settings("bulk_reads")["hour_floor"])
    if records < floor:
        raise RuntimeError(f"{school.name}: {records} records in the demo's hour of reading, under the floor {floor}")


def _rotating(ids: list[str], size: int) -> Iterator[list[str]]:
    """Successive slices of `ids`, wrapping round: a different handful of pupils each time."""
    start = 0
    while True:
        yield [ids[(start + n) % len(ids)] for n in range(size)]
        start += size


def _one(rule: str, school: Organisation, user: User) -> Alert:
    return Alert.objects.get(rule=rule, school=school, subject_key=f"user:{user.pk}")


def _described(deadline: dt.datetime, people: int, incident: Alert) -> dict[str, Any]:
    """The alerts as they stand after the pass, for the credentials file and the printed summary."""
    with estate_scope(), processor_scope():
        alerts = list(Alert.objects.select_related("school").order_by("id"))
    base = DEFAULT_BASE_URL
    return {
        "processor_alerts_url": f"{base}/processor/alerts/",
        "school_alerts_url": f"{base}/school/alerts/",
        "open": [_entry(a) for a in alerts if a.status == AlertStatus.OPEN],
        "resolved": [_entry(a) for a in alerts if a.resolved],
        "breach": {
            "school": incident.school.name if incident.school else "",
            "url": f"{base}/school/alerts/{incident.pk}/breach/",
            "people": people,
            "ico_deadline": deadline.isoformat(),
        },
        "note": "As Priya Shah (the ICT service's administrator) open All alerts: the password spraying from one "
        "network abroad, and every school's alerts. As Riverside Academy's DPO (dpo@secondary.demo-school.invalid) "
        "open Alerts: the business manager's impossible travel and the exams officer's afternoon of reading are "
        "open, her holiday sign-in from the United States resolved as expected. As the trust's DPO "
        "(dpo@primary.demo-school.invalid) at Meadowbank Primary School: the account left signed in, resolved as an "
        "incident, and its breach record with the 72-hour clock for telling the ICO.",
    }


def _entry(alert: Alert) -> dict[str, Any]:
    rule = RULE_BY_NAME.get(alert.rule)
    school = alert.school.name if alert.school else ""
    page = f"school/alerts/{alert.pk}/" if alert.school_id else f"processor/alerts/{alert.pk}/"
    return {
        "rule": alert.rule,
        "title": rule.title if rule else alert.rule,
        "school": school,
        "subject": alert.subject_label,
        "status": alert.status,
        "status_label": alert.get_status_display(),
        "note": alert.note,
        "evidence": len(alert.event_ids),
        "url": f"{DEFAULT_BASE_URL}/{page}",
    }
