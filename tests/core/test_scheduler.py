"""The scheduler enqueues what core/schedule.py declares, at its time and only then."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from steward.audit.actor import Actor
from steward.core.schedule import run_due
from steward.sharing.models import DeliveryAttempt
from steward.tenancy.scope import tenant_scope
from tests import factories

LONDON = ZoneInfo("Europe/London")


@pytest.mark.django_db
def test_at_two_in_the_morning_daily_export_flows_are_delivered(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from steward.register.models import ProcessingActivity, Recipient
    from steward.sharing import delivery, services

    school = factories.school("Scheduled School", services_=("hosted_mis", "data_exchange"))
    with tenant_scope([school.id]):
        flow = services.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="la-attendance"),
            activity=ProcessingActivity.objects.get(service="data_exchange"),
            purpose="Attendance",
            lawful_basis="6.1.c",
            categories=["learner.identity"],
            frequency="daily",
            delivery="export",
            actor=Actor.system("LA"),
        )
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        delivery.delivery_target_set(flow=flow, export_folder=str(tmp_path))
    assert run_due(dt.datetime(2026, 11, 25, 1, 58, tzinfo=LONDON)) == []  # a minute nothing is scheduled
    with tenant_scope([school.id]):
        assert not DeliveryAttempt.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        entries = run_due(dt.datetime(2026, 11, 25, 2, 0, 30, tzinfo=LONDON))
    assert [e.kwargs for e in entries] == [{"frequency": "daily"}]
    with tenant_scope([school.id]):
        assert list(DeliveryAttempt.objects.values_list("status", flat=True)) == ["succeeded"]


@pytest.mark.django_db
def test_the_command_runs_a_given_minute(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("scheduler", at="2026-11-29T03:00:00+00:00")
    assert "deliver_due_flows {'frequency': 'weekly'}" in capsys.readouterr().out
