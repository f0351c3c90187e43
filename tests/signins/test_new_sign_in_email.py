"""A sign-in from a device or a country the person has not used in 90 days is emailed to them over
real SMTP: when, on what, roughly where, and how to end it; nothing else about them. The account's
very first sign-in is not (its owner has just set it up)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings

from steward.tenancy.models import User
from tests.notify_fixtures import SmtpSink
from tests.portal import families as f
from tests.signins.conftest import FIREFOX_ON_LINUX, GB_ADDRESS, US_ADDRESS, at, parent_browser, staff_browser

pytestmark = pytest.mark.django_db


def _subjects(sink: SmtpSink) -> list[str]:
    return [str(m.message["Subject"]) for m in sink.messages]


def test_a_new_device_in_a_new_country_is_emailed_with_time_device_place_and_how_to_end_it_only(
    dpo_a: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(-60 * 24))  # the account's first sign-in, the day before: no email
    assert smtp_sink.messages == []
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(0), address=US_ADDRESS, agent=FIREFOX_ON_LINUX)
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == [dpo_a.email] and mail.message["Subject"] == "New sign-in to Steward"
    body = mail.body
    assert "09:00 on 02 March 2026 (UK time)" in body  # MONDAY is 09:00 UTC, GMT in March
    assert "Device: Firefox on Linux" in body and "Approximate place: United States" in body
    assert f"End the session on your sessions page: {settings.STEWARD_BASE_URL.rstrip('/')}/account/sessions/" in body
    for private in (dpo_a.full_name, dpo_a.email, US_ADDRESS, "GOOGLE"):
        assert private not in body


def test_the_same_device_and_country_within_90_days_is_not_emailed_again(
    dpo_a: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(0))
        staff_browser(dpo_a, at(60 * 24 * 89))  # 89 days later, same browser, same country: nothing
    assert smtp_sink.messages == []
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(60 * 24 * 89 + 1), agent=FIREFOX_ON_LINUX)  # a new device
    smtp_sink.wait_for(1)
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(60 * 24 * 89 + 2), address=US_ADDRESS)  # a known device in a new country
    assert _subjects(smtp_sink) == ["New sign-in to Steward"] * 2


def test_a_device_last_used_more_than_90_days_ago_is_new_again(
    dpo_a: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(0), address=GB_ADDRESS)
        staff_browser(dpo_a, at(0) + dt.timedelta(days=90, minutes=-1), address=GB_ADDRESS)  # a near miss
    assert smtp_sink.messages == []
    with django_capture_on_commit_callbacks(execute=True):
        staff_browser(dpo_a, at(0) + dt.timedelta(days=180, minutes=1), address=GB_ADDRESS)
    assert len(smtp_sink.wait_for(1)) == 1


def test_a_parent_is_emailed_a_link_to_their_portal_sessions(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    alex = f.registered_parent(f.family_school("Alder Primary"), "C1")
    with django_capture_on_commit_callbacks(execute=True):
        parent_browser(alex, at(0))
    smtp_sink.clear()
    with django_capture_on_commit_callbacks(execute=True):
        parent_browser(alex, at(1), address=US_ADDRESS)
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == [alex.email] and "/portal/account/sessions/" in mail.body
    assert alex.full_name not in mail.body and "United States" in mail.body
