"""What a breach record counts from an alert's evidence: the reads that matter for each kind of rule."""

from __future__ import annotations

import datetime as dt

import pytest

from steward.monitoring.breach import affected
from steward.monitoring.models import Alert
from steward.tenancy.models import Organisation, User
from steward.tenancy.scope import tenant_scope
from tests.monitoring.conftest import WEDNESDAY, emit

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def _alert(school: Organisation, user: User, rule: str, start: dt.datetime, end: dt.datetime) -> Alert:
    with tenant_scope([school.id]):
        return Alert.objects.create(
            rule=rule,
            school=school,
            subject_kind="account",
            subject_key=f"user:{user.pk}",
            subject_label=str(user),
            window_start=start,
            window_end=end,
            first_at=start,
            last_at=end,
            summary="s",
            created_at=end,
            updated_at=end,
            changed_at=end + 3 * HOUR,
        )


def _read(school: Organisation, user: User, at: dt.datetime, action: str, ids: list[str]) -> None:
    emit(at, action, school_id=school.id, actor_user_id=user.pk, object_type="mis.Learner", object_ids=ids)


def test_a_new_country_alert_counts_what_was_read_after_the_sign_in(alder: Organisation, teacher: User) -> None:
    sign_in = WEDNESDAY
    _read(alder, teacher, sign_in - HOUR, "view", ["L0"])  # before the sign-in: not the intruder's
    _read(alder, teacher, sign_in + HOUR, "view", ["L1", "L2"])
    _read(alder, teacher, sign_in + 2 * HOUR, "export_csv", ["L3"])  # an export the exports rule watches
    _read(alder, teacher, sign_in + 4 * HOUR, "view", ["L4"])  # after the alert was decided
    alert = _alert(alder, teacher, "new_country", sign_in, sign_in)
    with tenant_scope([alder.id]):
        _, people, estimate = affected(alert)
    assert people[0]["ids"] == ["L1", "L2", "L3"] and estimate == 3


def test_a_read_alert_counts_its_half_open_window(alder: Organisation, teacher: User) -> None:
    _read(alder, teacher, WEDNESDAY, "view", ["L1"])
    _read(alder, teacher, WEDNESDAY + HOUR, "view", ["L2"])  # the next bucket's first instant
    alert = _alert(alder, teacher, "bulk_reads_hour", WEDNESDAY, WEDNESDAY + HOUR)
    with tenant_scope([alder.id]):
        _, people, _ = affected(alert)
    assert people[0]["ids"] == ["L1"]
