"""A system check of the session limits (`manage.py check`, and every command that runs checks,
`runserver` and `migrate` among them): a limit that is not a positive whole number of seconds, or
an idle limit longer than the absolute one, would make the middleware sign everyone out at once, or
never apply the idle limit, in silence. Refused at start-up instead, naming the setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

IDLE_SETTINGS = ("STEWARD_SESSION_IDLE_STAFF", "STEWARD_SESSION_IDLE_PARENT")
ABSOLUTE_SETTING = "STEWARD_SESSION_ABSOLUTE"


def _seconds(name: str, errors: list[Error]) -> int | None:
    value = getattr(settings, name, None)
    # bool is an int in Python; True seconds is a mistake, not a limit.
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(
            Error(
                f"{name} must be a whole number of seconds, not {value!r}",
                hint="Set it to a positive integer, e.g. 1800 for 30 minutes.",
                id="signins.E001",
            )
        )
        return None
    if value <= 0:
        errors.append(
            Error(
                f"{name} must be more than 0 seconds, not {value}",
                hint="Set it to a positive integer, e.g. 1800 for 30 minutes.",
                id="signins.E002",
            )
        )
        return None
    return value


def check_session_limits(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    absolute = _seconds(ABSOLUTE_SETTING, errors)
    for name in IDLE_SETTINGS:
        idle = _seconds(name, errors)
        if idle is not None and absolute is not None and idle > absolute:
            errors.append(
                Error(
                    f"{name} ({idle} s) is longer than {ABSOLUTE_SETTING} ({absolute} s): "
                    "a session would always end at the absolute limit first",
                    hint=f"Set {name} to at most {absolute}, or raise {ABSOLUTE_SETTING}.",
                    id="signins.E003",
                )
            )
    return errors
