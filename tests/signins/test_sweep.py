"""The daily sweep, with the clock set by time-machine: Django sessions past their expiry go (a
browser that never came back leaves its row behind otherwise), and so do session records ended more
than the 90 days `signins.privacy` declares; a live session and a record ended 89 days ago stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.core.schedule import due
from steward.signins import services
from steward.signins.models import StaffSession
from steward.signins.privacy import KEPT_AFTER_END
from steward.signins.tasks import sweep_sessions_task
from steward.tenancy.models import User
from steward.tenancy.scope import processor_scope
from tests.notify_fixtures import SmtpSink
from tests.signins.conftest import FIREFOX_ON_LINUX, US_ADDRESS, at, staff_browser

pytestmark = pytest.mark.django_db

DAY = 60 * 24  # minutes


def _key(client: Client) -> str:
    return str(client.session.session_key)


def _signed_out_at(client: Client, minutes: float) -> None:
    with time_machine.travel(at(minutes), tick=False):
        client.post("/sign-out/", {})


def test_expired_django_sessions_and_records_past_retention_go_and_live_ones_stay(dpo_a: User, admin_a: User) -> None:
    old_ended = staff_browser(dpo_a, at(0))
    _signed_out_at(old_ended, 1)  # ended 91 days before the sweep: past retention
    abandoned = staff_browser(dpo_a, at(2))  # never came back: its Django session expired at 12 hours
    abandoned_key = _key(abandoned)
    recent_ended = staff_browser(dpo_a, at(2 * DAY))
    _signed_out_at(recent_ended, 2 * DAY + 1)  # ended 89 days before the sweep: kept
    live = staff_browser(dpo_a, at(91 * DAY))
    live_key = _key(live)
    away = staff_browser(admin_a, at(3))
    _signed_out_at(away, 4)  # another person's only record, past retention: their latest, so it stays
    assert Session.objects.filter(session_key=abandoned_key).exists()  # nothing cleared it so far
    rows = {r.started_at: r for r in StaffSession.objects.filter(user=dpo_a)}

    with time_machine.travel(at(91 * DAY + 5), tick=False):
        assert sweep_sessions_task.call() == [1, 2, 0]

    assert not Session.objects.filter(session_key=abandoned_key).exists()
    assert Session.objects.filter(session_key=live_key).exists()
    left = set(StaffSession.objects.filter(user=dpo_a).values_list("pk", flat=True))
    assert left == {rows[at(2 * DAY)].pk, rows[at(91 * DAY)].pk}
    assert StaffSession.objects.filter(user=admin_a).count() == 1
    with time_machine.travel(at(91 * DAY + 6), tick=False):
        assert live.get("/account/sessions/").status_code == 200  # the live browser is still signed in
        assert sweep_sessions_task.call() == [0, 0, 0]  # idempotent
    with processor_scope():
        event = AuditEvent.objects.filter(action="sessions_swept").order_by("id").first()
    assert event is not None and event.actor_label == "session sweep"
    assert event.detail == {"django_sessions": 1, "staff_sessions": 2, "parent_sessions": 0, "kept_days": 90}


def test_the_retention_covers_the_new_sign_in_comparison() -> None:
    """The records are kept as long as the new-device email looks back, and no longer."""
    assert KEPT_AFTER_END == services.SEEN_WINDOW == dt.timedelta(days=90)


def test_the_sweep_is_scheduled_daily() -> None:
    when = timezone.make_aware(dt.datetime(2026, 6, 10, 3, 45))  # noqa: DTZ001  # local time, any day
    assert "steward.signins.tasks.sweep_sessions_task" in {e.task for e in due(when)}


def test_a_sign_in_after_a_long_absence_is_still_news_after_the_sweep(
    dpo_a: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    """The sweep keeps the person's latest record: without any, the next sign-in would look like the
    account's first and send nothing, whoever signed in from wherever."""
    _signed_out_at(staff_browser(dpo_a, at(0)), 1)
    _signed_out_at(staff_browser(dpo_a, at(DAY)), DAY + 1)
    with time_machine.travel(at(120 * DAY), tick=False):
        assert sweep_sessions_task.call() == [0, 1, 0]
    assert StaffSession.objects.filter(user=dpo_a).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(120 * DAY + 1), address=US_ADDRESS, agent=FIREFOX_ON_LINUX)
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Subject"] == "New sign-in to Steward"
