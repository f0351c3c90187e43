"""Synthetic audit streams, written the way the audit log writes them (`audit_record`, so the hash
chain holds), at times the test sets with time-machine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from steward.audit.services import audit_record
from steward.monitoring.detection import PassResult, detection_pass
from steward.monitoring.models import Alert
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope
from tests import factories

LONDON = ZoneInfo("Europe/London")
# A Wednesday in term, 10:00 in London.
WEDNESDAY = dt.datetime(2026, 11, 18, 10, 0, tzinfo=LONDON)


def emit(at: dt.datetime, action: str, **fields: Any) -> int:
    school_id = fields.get("school_id")
    with time_machine.travel(at, tick=False), tenant_scope([school_id] if school_id else []):
        return int(audit_record(action=action, **fields).id)


def emit_many(times: Iterable[dt.datetime], action: str, **fields: Any) -> list[int]:
    return [emit(at, action, **fields) for at in times]


def every(start: dt.datetime, count: int, step: dt.timedelta) -> list[dt.datetime]:
    return [start + step * i for i in range(count)]


def run_pass(at: dt.datetime | None = None) -> PassResult:
    with time_machine.travel(at or WEDNESDAY + dt.timedelta(days=1), tick=False):
        return detection_pass()


def alerts(rule: str = "") -> list[Alert]:
    with estate_scope(), processor_scope():
        found = Alert.objects.order_by("id")
        return list(found.filter(rule=rule) if rule else found)


@pytest.fixture
def alder() -> Organisation:
    return factories.school("Alder Primary")


@pytest.fixture
def birch() -> Organisation:
    return factories.school("Birch Academy")


@pytest.fixture
def teacher(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, alder, email="teacher@alder.invalid")
