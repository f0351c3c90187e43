"""The demo's monitoring: on whatever day `steward demo` runs, the alerts pages show an open alert of
each kind the issue names (password spraying, impossible travel, bulk reading) with its evidence,
one resolved as expected behaviour with its note, and one resolved as an incident with a breach
record and its ICO clock, all found by a real detection pass over events dated from that day.

The demo's pieces run in process under time-machine (as in test_demo_today.py): the organisations,
the MIS data of the two schools the story is set in, then `loader.load_demo_monitoring`. The last
school day each date's story falls on is worked out by hand in the parameters, not by the demo's code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from steward.audit.models import AuditEvent
from steward.audit.selectors import audit_chain_verify
from steward.demo import loader
from steward.mis.models import Contact, Learner
from steward.monitoring.models import Alert, AlertStatus, Breach
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope
from tests.demo.test_demo_today import load_on

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def load_monitoring_at(moment: dt.datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The demo as `steward demo` loads it at `moment`, up to and including its monitoring."""
    with time_machine.travel(moment, tick=True):
        load_on(None, tmp_path, monkeypatch, schools_with_data=2)
        return loader.load_demo_monitoring()["monitoring"]  # type: ignore[no-any-return]


def everything() -> tuple[list[Alert], list[Breach], dict[int, AuditEvent]]:
    with estate_scope(), processor_scope():
        alerts = list(Alert.objects.order_by("id"))
        breaches = list(Breach.objects.order_by("id"))
        ids = {i for a in alerts for i in a.event_ids}
        events = {e.id: e for e in AuditEvent.objects.filter(id__in=ids)}
    return alerts, breaches, events


@pytest.mark.parametrize(
    ("moment", "last_school_day"),
    [
        # A Saturday in term: the story's school day is Friday.
        (dt.datetime(2026, 12, 5, 11, 0, tzinfo=LONDON), dt.date(2026, 12, 4)),
        # 1 September, the turn of the school year (a Tuesday): the story's day is 31 August, a Monday.
        (dt.datetime(2026, 9, 1, 9, 30, tzinfo=LONDON), dt.date(2026, 8, 31)),
    ],
)
def test_the_demo_has_open_alerts_of_three_kinds_one_resolved_and_a_breach_record_dated_from_its_day(
    moment: dt.datetime, last_school_day: dt.date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    described = load_monitoring_at(moment, tmp_path, monkeypatch)

    alerts, breaches, events = everything()
    riverside = Organisation.objects.get(urn=881002)
    meadowbank = Organisation.objects.get(urn=881001)
    opened = {a.rule: a for a in alerts if a.status == AlertStatus.OPEN}
    assert {"password_spraying", "impossible_travel", "bulk_reads_hour"} <= set(opened), alerts
    for alert in opened.values():
        assert alert.event_ids and all(i in events for i in alert.event_ids), alert
    spraying, travel, reading = opened["password_spraying"], opened["impossible_travel"], opened["bulk_reads_hour"]

    # Spraying: failed sign-ins to at least ten accounts from one foreign /24, within hours of loading.
    assert spraying.school_id is None and spraying.subject_key == "network:185.220.101.0/24"
    sprayed = [events[i] for i in spraying.event_ids]
    assert {e.action for e in sprayed} == {"sign_in_failed"}
    assert len({e.detail["email"] for e in sprayed}) >= 10
    assert all(moment - dt.timedelta(hours=4) < e.occurred_at < moment for e in sprayed)

    # Impossible travel: Riverside's business manager, the UK then the US on the last school day.
    manager = User.objects.get(email="admin@secondary.demo-school.invalid")
    assert (travel.school_id, travel.subject_key) == (riverside.id, f"user:{manager.pk}")
    travelled = [events[i] for i in travel.event_ids]
    assert [e.action for e in travelled] == ["sign_in", "sign_in"]
    assert [e.occurred_at.astimezone(LONDON).date() for e in travelled] == [last_school_day] * 2
    assert (travel.counts["from"], travel.counts["to"]) == ("GB", "US")

    # Bulk reading: Riverside's exams officer, 200 pupils' records in an hour of the last school day.
    officer = User.objects.get(email=loader.EXAMS_OFFICER)
    assert (reading.school_id, reading.subject_key) == (riverside.id, f"user:{officer.pk}")
    assert reading.event_count == 200 and reading.counts["usual"] < 10
    read = [events[i] for i in reading.event_ids]
    assert {(e.action, e.object_type, e.school_id) for e in read} == {("view", "mis.Learner", riverside.id)}
    assert {e.occurred_at.astimezone(LONDON).date() for e in read} == {last_school_day}

    # Resolved as expected: her first sign-in from the US, a month before, with the DPO's note.
    [expected] = [a for a in alerts if a.status == AlertStatus.RESOLVED_EXPECTED]
    assert (expected.rule, expected.school_id, expected.subject_key) == (
        "new_country",
        riverside.id,
        travel.subject_key,
    )
    assert "annual leave" in expected.note and expected.changed_by_label
    assert dt.timedelta(days=25) < moment - expected.first_at < dt.timedelta(days=35)

    # Resolved as an incident, with its breach record: Meadowbank's pupils and parents read in an hour.
    [incident] = [a for a in alerts if a.status == AlertStatus.RESOLVED_INCIDENT]
    assert (incident.rule, incident.school_id) == ("bulk_reads_hour", meadowbank.id)
    assert incident.window_start.astimezone(LONDON).date() == last_school_day
    [breach] = breaches
    assert breach.alert_id == incident.pk and breach.school_id == meadowbank.id
    people = {p["record_type"]: p["count"] for p in breach.people}
    assert set(people) == {"mis.Learner", "mis.Contact", "mis.SchoolEnrolment"}
    with tenant_scope([meadowbank.id]):  # every pupil, then parents up to records worth 250
        assert people["mis.Learner"] == Learner.objects.count()
        assert 0 < people["mis.Contact"] <= Contact.objects.count()
    assert breach.people_estimate == max(people.values()) and breach.categories
    assert 150 <= incident.counts["weighted"] < 260  # over the hour's floor, at most a page past 250
    assert not [a for a in alerts if a.rule == "bulk_reads_day"]
    assert moment <= breach.aware_at < moment + dt.timedelta(minutes=10)
    assert breach.ico_deadline == breach.aware_at + dt.timedelta(hours=72)

    # What the demo prints and keeps says the same, and the audit log's chain holds.
    assert {a["rule"] for a in described["open"]} == set(opened)
    assert {a["status"] for a in described["resolved"]} == {"resolved_expected", "resolved_incident"}
    assert described["breach"]["url"].endswith(f"/school/alerts/{incident.pk}/breach/")
    assert audit_chain_verify().ok
