"""Each rule with a stream that must fire and a near miss that must not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from steward.tenancy.models import Organisation, User
from tests.monitoring.conftest import LONDON, WEDNESDAY, alerts, emit, every, run_pass

MINUTE = dt.timedelta(minutes=1)
pytestmark = pytest.mark.django_db


# --- Brute force


@pytest.mark.parametrize(("failures", "fires"), [(10, True), (9, False)])
def test_brute_force_fires_at_ten_failures_against_one_account(failures: int, fires: bool, teacher: User) -> None:
    start = WEDNESDAY.replace(minute=0)
    for at in every(start, failures, MINUTE):
        emit(at, "sign_in_failed", ip_address="81.2.69.160", detail={"email": teacher.email})
    run_pass()
    found = alerts("brute_force")
    assert len(found) == (1 if fires else 0)
    if fires:
        alert = found[0]
        assert alert.school_id == teacher.memberships.get().organisation_id  # the account's school
        assert alert.subject_key == f"email:{teacher.email}" and alert.event_count == 10
        assert len(alert.event_ids) == 10 and alert.first_at == start


def test_failures_spread_over_two_windows_do_not_add_up(teacher: User) -> None:
    """Tumbling 15-minute windows: nine failures in each of two windows is two near misses."""
    for at in every(WEDNESDAY.replace(minute=0), 9, MINUTE) + every(WEDNESDAY.replace(minute=15), 9, MINUTE):
        emit(at, "sign_in_failed", detail={"email": teacher.email})
    run_pass()
    assert alerts("brute_force") == []


# --- Password spraying


@pytest.mark.parametrize(("accounts", "fires"), [(10, True), (9, False)])
def test_spraying_fires_at_ten_accounts_from_one_network(accounts: int, fires: bool) -> None:
    for n, at in enumerate(every(WEDNESDAY, accounts, MINUTE)):
        # Different addresses of one /24, one failure for each account.
        emit(at, "sign_in_failed", ip_address=f"203.0.113.{n + 1}", detail={"email": f"person{n}@school.invalid"})
    # Another network's failures never join the count.
    emit(WEDNESDAY, "sign_in_failed", ip_address="198.51.100.7", detail={"email": "other@school.invalid"})
    run_pass()
    found = alerts("password_spraying")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert found[0].school_id is None  # the processor's: spraying crosses schools
        assert found[0].subject_key == "network:203.0.113.0/24" and found[0].counts["accounts"] == 10


# --- API client misuse


@pytest.mark.parametrize(("refusals", "fires"), [(20, True), (19, False)])
def test_api_client_misuse_fires_at_twenty_refusals_in_an_hour(refusals: int, fires: bool) -> None:
    for at in every(WEDNESDAY.replace(minute=0), refusals, MINUTE):
        emit(at, "api_refused", actor_client="client-abc", detail={"status": 403, "record_type": "special-needs"})
    run_pass()
    found = alerts("api_client_misuse")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert found[0].school_id is None and found[0].subject_key == "client:client-abc"


# --- Impossible travel and new country


@pytest.mark.parametrize(("hours", "fires"), [(2, True), (5, False)])
def test_impossible_travel_between_the_uk_and_the_us(hours: int, fires: bool, teacher: User) -> None:
    emit(WEDNESDAY, "sign_in", actor_user_id=teacher.pk, ip_address="81.2.69.160")  # GB
    emit(WEDNESDAY + dt.timedelta(hours=hours), "sign_in", actor_user_id=teacher.pk, ip_address="8.8.8.8")  # US
    run_pass()
    found = alerts("impossible_travel")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert found[0].counts["from"] == "GB" and found[0].counts["to"] == "US"


def test_neighbours_take_less_time_than_the_default(teacher: User) -> None:
    """GB to IE needs 1.5 hours: two hours apart is possible."""
    emit(WEDNESDAY, "sign_in", actor_user_id=teacher.pk, ip_address="81.2.69.160")
    emit(WEDNESDAY + dt.timedelta(hours=2), "sign_in", actor_user_id=teacher.pk, ip_address="185.60.216.35")
    run_pass()
    assert alerts("impossible_travel") == []


def test_impossible_travel_compares_with_a_sign_in_of_an_earlier_pass(teacher: User) -> None:
    emit(WEDNESDAY, "sign_in", actor_user_id=teacher.pk, ip_address="81.2.69.160")
    run_pass(WEDNESDAY + MINUTE)
    emit(WEDNESDAY + dt.timedelta(hours=1), "sign_in", actor_user_id=teacher.pk, ip_address="8.8.8.8")
    run_pass()
    assert len(alerts("impossible_travel")) == 1


def test_new_country_fires_once_for_a_first_sign_in_from_abroad(teacher: User, alder: Organisation) -> None:
    emit(WEDNESDAY - dt.timedelta(days=3), "sign_in", actor_user_id=teacher.pk, ip_address="81.2.69.160")  # GB
    run_pass(WEDNESDAY)
    assert alerts("new_country") == []  # the UK is home
    emit(WEDNESDAY + dt.timedelta(days=2), "sign_in", actor_user_id=teacher.pk, ip_address="5.39.0.1")  # FR
    run_pass(WEDNESDAY + dt.timedelta(days=3))
    emit(WEDNESDAY + dt.timedelta(days=4), "sign_in", actor_user_id=teacher.pk, ip_address="5.39.0.1")
    run_pass(WEDNESDAY + dt.timedelta(days=5))
    found = alerts("new_country")
    assert [(a.school_id, a.counts["country"]) for a in found] == [(alder.id, "FR")]


# --- Bulk reads


def _history(teacher: User, school: Organisation, per_day: int, days: int = 14) -> None:
    for day in range(1, days + 1):
        emit(
            WEDNESDAY - dt.timedelta(days=day),
            "view",
            actor_user_id=teacher.pk,
            school_id=school.id,
            object_type="mis.Learner",
            object_ids=range(per_day),
        )


def _read(teacher: User, school: Organisation, object_type: str, records: int, hours: int = 1) -> None:
    per_hour = records // hours
    for hour in range(hours):
        emit(
            WEDNESDAY + dt.timedelta(hours=hour),
            "view",
            actor_user_id=teacher.pk,
            school_id=school.id,
            object_type=object_type,
            object_ids=range(hour * per_hour, (hour + 1) * per_hour),
        )


def test_bulk_reads_fire_at_five_times_the_persons_own_daily_baseline(teacher: User, alder: Organisation) -> None:
    _history(teacher, alder, per_day=100)
    _read(teacher, alder, "mis.Learner", 520, hours=4)  # 130 an hour: under the hourly floor of 150
    run_pass()
    assert [a.rule for a in alerts()] == ["bulk_reads_day"]
    alert = alerts()[0]
    assert alert.school_id == alder.id and alert.counts["weighted"] == 520 and alert.counts["usual"] == 100


def test_bulk_reads_near_miss_under_five_times_the_baseline(teacher: User, alder: Organisation) -> None:
    _history(teacher, alder, per_day=100)
    _read(teacher, alder, "mis.Learner", 480, hours=4)  # over the floor of 400, under 5 x 100
    run_pass()
    assert alerts() == []


def test_special_category_records_count_five_times(teacher: User, alder: Organisation) -> None:
    """120 pupils' SEN records are worth 600; 120 pupils' basic records are not an alert."""
    _history(teacher, alder, per_day=100)
    _read(teacher, alder, "mis.SpecialNeeds", 120, hours=4)
    run_pass()
    assert [a.counts["weighted"] for a in alerts("bulk_reads_day")] == [600]


def test_special_category_near_miss_of_ordinary_records(teacher: User, alder: Organisation) -> None:
    _history(teacher, alder, per_day=100)
    _read(teacher, alder, "mis.Learner", 120, hours=4)
    run_pass()
    assert alerts() == []


def test_bulk_reads_in_one_hour(teacher: User, alder: Organisation) -> None:
    _read(teacher, alder, "mis.Learner", 160, hours=1)  # no history: the hourly floor of 150
    run_pass()
    assert [a.rule for a in alerts()] == ["bulk_reads_hour"]


# --- Exports


@pytest.mark.parametrize(("exports", "fires"), [(4, True), (3, False)])
def test_exports_above_the_floor_with_no_history(exports: int, fires: bool, teacher: User, alder: Organisation) -> None:
    for at in every(WEDNESDAY, exports, dt.timedelta(minutes=30)):
        emit(at, "export_csv", actor_user_id=teacher.pk, school_id=alder.id, object_type="audit.AuditEvent")
    run_pass()
    assert len(alerts("exports")) == (1 if fires else 0)


# --- Odd hours (Europe/London)

SATURDAY_NIGHT = dt.datetime(2026, 11, 21, 23, 30, tzinfo=LONDON)


@pytest.mark.parametrize(("events", "fires"), [(30, True), (29, False)])
def test_odd_hours_fire_on_a_weekend_night(events: int, fires: bool, teacher: User, alder: Organisation) -> None:
    for at in every(SATURDAY_NIGHT, events, dt.timedelta(seconds=30)):
        emit(at, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    run_pass(SATURDAY_NIGHT + dt.timedelta(days=1))
    assert len(alerts("odd_hours")) == (1 if fires else 0)


def test_the_same_work_on_a_weekday_afternoon_is_not_odd(teacher: User, alder: Organisation) -> None:
    for at in every(WEDNESDAY.replace(hour=14), 60, dt.timedelta(seconds=30)):
        emit(at, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    run_pass()
    assert alerts("odd_hours") == []


def test_odd_hours_are_judged_against_the_schools_norm(teacher: User, alder: Organisation) -> None:
    """At a school whose staff work 20 actions on weekend nights, 30 is not three times the norm."""
    for week in (1, 2):
        for at in every(SATURDAY_NIGHT - dt.timedelta(weeks=week), 20, MINUTE):
            emit(at, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    for at in every(SATURDAY_NIGHT, 30, dt.timedelta(seconds=30)):
        emit(at, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    run_pass(SATURDAY_NIGHT + dt.timedelta(days=1))
    assert alerts("odd_hours") == []


@override_settings(STEWARD_MONITORING={"odd_hours": {"floor": 5}})
def test_thresholds_come_from_settings(teacher: User, alder: Organisation) -> None:
    for at in every(SATURDAY_NIGHT, 5, MINUTE):
        emit(at, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    run_pass(SATURDAY_NIGHT + dt.timedelta(days=1))
    assert len(alerts("odd_hours")) == 1


def test_an_hour_read_over_two_passes_adds_up(teacher: User, alder: Organisation) -> None:
    """100 then 60 records in one open hour, a pass after each: the hour's tally carries the 100."""
    start = WEDNESDAY.replace(minute=0)
    emit(start, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=range(100))
    run_pass(start + dt.timedelta(minutes=25))
    assert alerts() == []
    emit(
        start + dt.timedelta(minutes=30),
        "view",
        actor_user_id=teacher.pk,
        school_id=alder.id,
        object_type="mis.Learner",
        object_ids=range(100, 160),
    )
    run_pass(start + dt.timedelta(minutes=35))
    [alert] = alerts()
    assert alert.rule == "bulk_reads_hour" and alert.counts["weighted"] == 160 and len(alert.event_ids) == 2


@pytest.mark.parametrize(("per_day", "fires"), [(100, True), (1000, False)])
def test_the_usual_hour_is_the_persons_daily_history_spread_over_the_day(
    per_day: int, fires: bool, teacher: User, alder: Organisation
) -> None:
    """160 records in an hour: five times more than 100 a day spread over 24 hours, but not than 1,000."""
    _history(teacher, alder, per_day=per_day)
    _read(teacher, alder, "mis.Learner", 160, hours=1)
    run_pass()
    # (The history's own days, 1,000 records in one view each, are hours over the floor themselves.)
    today = [a for a in alerts("bulk_reads_hour") if a.window_start == WEDNESDAY]
    assert len(today) == (1 if fires else 0)


def test_a_persons_access_bundle_holds_the_alerts_keyed_by_the_address_they_were_attacked_at(
    teacher: User, alder: Organisation
) -> None:
    """A brute-force alert names the email typed when the failures carried no account: it is still
    about the person, so their subject access export shows it."""
    from steward.monitoring.privacy import MonitoringPrivacyProvider
    from steward.register.providers import Subject
    from steward.tenancy.scope import tenant_scope

    for at in every(WEDNESDAY, 10, MINUTE):
        emit(at, "sign_in_failed", ip_address="81.2.69.160", detail={"email": teacher.email.upper()})
    run_pass()
    [alert] = alerts("brute_force")
    assert alert.subject_key == f"email:{teacher.email.lower()}"
    with tenant_scope([alder.id]):
        exported = MonitoringPrivacyProvider().export_subject(Subject("school_user", teacher.pk, alder.id))
    assert [row["what was found"] for row in exported["monitoring.Alert"]] == [alert.summary]
