"""`steward provision plan|confirm|apply`: the plan printed with its reasons, the brake, errors in words."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from steward.tenancy.models import Organisation
from tests.provisioning.conftest import SCHOOL, TOKEN, make_target, send, users

pytestmark = [pytest.mark.time_machine("2026-09-01 12:00 +00:00")]


def provision(*args: str) -> str:
    out = io.StringIO()
    call_command("provision", *args, stdout=out)
    return out.getvalue()


def test_plan_then_apply_then_a_held_plan_is_confirmed(school: Organisation, directory: Any) -> None:
    server, _ = directory
    make_target(school, endpoint=server.url, token=TOKEN, brake_percent=5)
    urn = str(school.urn)
    planned = provision("plan", "--school", urn, "--target", "entra")
    assert "entra: Planned, not yet applied (6 changes)" in planned
    assert "Create" in planned and "26khana@school.example" in planned and "On roll in Year 7." in planned
    assert users(server) == {}
    applied = provision("apply", "--school", urn, "--target", "entra")
    assert "entra: Applied (6 changes)" in applied and "[Done]" in applied
    assert len(users(server)) == 6
    leaving = [{**e, "leaving_date": "2026-08-31"} for e in SCHOOL["school-enrolments"]]
    send(school, {"school-enrolments": leaving})
    with pytest.raises(CommandError, match="held by the mass-change brake: confirm it first"):
        provision("apply", "--school", urn, "--target", "entra")
    provision("confirm", "--school", urn, "--target", "entra")
    done = provision("apply", "--school", urn, "--target", "entra")
    assert "Disable" in done and "Left on 31 August 2026." in done
    assert sum(1 for u in users(server).values() if not u["active"]) == 4


def test_unknown_school_and_target_are_named(school: Organisation) -> None:
    with pytest.raises(CommandError, match="no school with URN 999999"):
        provision("plan", "--school", "999999", "--target", "entra")
    with pytest.raises(CommandError, match="has no provisioning target named 'nowhere'"):
        provision("plan", "--school", str(school.urn), "--target", "nowhere")
