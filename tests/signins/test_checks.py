"""The session limits are checked at start-up (`manage.py check`): a limit that is not a positive
whole number of seconds, or an idle limit longer than the absolute one, is refused with a message
naming the setting; the defaults and an idle limit equal to the absolute one pass."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from steward.signins.checks import check_session_limits


def _messages() -> list[str]:
    return [e.msg for e in check_session_limits()]


def test_the_default_limits_pass() -> None:
    assert _messages() == []


def test_an_idle_limit_equal_to_the_absolute_limit_passes() -> None:
    with override_settings(STEWARD_SESSION_IDLE_PARENT=3600, STEWARD_SESSION_ABSOLUTE=3600):
        assert _messages() == []


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("STEWARD_SESSION_IDLE_STAFF", 0, "must be more than 0 seconds, not 0"),
        ("STEWARD_SESSION_IDLE_PARENT", -60, "must be more than 0 seconds, not -60"),
        ("STEWARD_SESSION_ABSOLUTE", 0, "must be more than 0 seconds, not 0"),
        ("STEWARD_SESSION_IDLE_STAFF", "30m", "must be a whole number of seconds, not '30m'"),
        ("STEWARD_SESSION_ABSOLUTE", 1.5, "must be a whole number of seconds, not 1.5"),
        ("STEWARD_SESSION_IDLE_PARENT", True, "must be a whole number of seconds, not True"),
    ],
)
def test_a_limit_that_is_not_a_positive_whole_number_is_refused_by_name(name: str, value: object, why: str) -> None:
    with override_settings(**{name: value}):
        assert _messages() == [f"{name} {why}"]


def test_an_idle_limit_longer_than_the_absolute_limit_is_refused() -> None:
    with override_settings(STEWARD_SESSION_IDLE_STAFF=7200, STEWARD_SESSION_ABSOLUTE=3600):
        assert _messages() == [
            "STEWARD_SESSION_IDLE_STAFF (7200 s) is longer than STEWARD_SESSION_ABSOLUTE (3600 s): "
            "a session would always end at the absolute limit first"
        ]


def test_manage_py_check_refuses_to_start_with_a_bad_limit() -> None:
    with override_settings(STEWARD_SESSION_IDLE_PARENT=0), pytest.raises(SystemCheckError) as refused:
        call_command("check")
    assert "signins.E002" in str(refused.value) and "STEWARD_SESSION_IDLE_PARENT" in str(refused.value)


def test_a_value_from_the_environment_that_is_not_a_number_stops_steward_check_naming_it() -> None:
    """Settings keep such a value as typed (not a bare ValueError at import), for the check to name."""
    env = {**os.environ, "STEWARD_SESSION_IDLE_STAFF": "30 minutes"}
    done = subprocess.run(  # noqa: S603  # nosec B603: our own command, fixed arguments
        [sys.executable, "-m", "steward", "check"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "STEWARD_SESSION_IDLE_STAFF must be a whole number of seconds, not '30 minutes'" in done.stderr
