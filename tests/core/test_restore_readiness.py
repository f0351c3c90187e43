"""A restored database marked NOT USABLE is not served: `steward serve`, `worker` and `scheduler` refuse
to start against it (in their own processes, as an operator would run them), and `steward check
--database default` names it (`core.E001`); once the marker says usable, the server starts and answers.

The marker is set on the test database with `restore_comment`, the function the restore writes it with.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.db import connections
from psycopg import sql

from steward.core.readiness import restore_comment, restore_problem
from tests.conftest import TEST_DB, steward_server

if TYPE_CHECKING:
    from tests.notify_fixtures import SmtpSink

AT = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)
REASON = "restore did not finish: `steward backup replay` on the restored database failed: disk full"


def _comment(text: str | None) -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}")
            .format(sql.Identifier(TEST_DB), sql.Literal(text))
            .as_string(cursor.connection)
        )


@pytest.fixture
def marked(committed_db: None) -> Iterator[None]:
    """The test database, marked as a restore of backup 7 that did not finish; unmarked afterwards."""
    _comment(restore_comment(7, usable=False, note=REASON, at=AT))
    try:
        yield
    finally:
        _comment(None)


def _steward(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STEWARD_DB_NAME": TEST_DB, "STEWARD_CONN_MAX_AGE": "0"}
    return subprocess.run(  # noqa: S603 - our own program
        [sys.executable, "-m", "steward", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _says_what_and_why(output: str) -> None:
    assert f"the database '{TEST_DB}'" in output
    assert "a restore of backup 7 marked NOT USABLE since 2026-03-02 09:15 UTC" in output
    assert REASON in output
    assert "steward backup replay --backup 7 --mark-usable" in output and "restore backup 7 again" in output


COMMANDS = [["serve", "--bind", "127.0.0.1:0", "--workers", "1"], ["worker"], ["scheduler", "--at", "2026-03-02T02:30"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_serve_worker_and_scheduler_refuse_a_database_marked_not_usable(marked: None, command: list[str]) -> None:
    result = _steward(*command)
    assert result.returncode == 1, result.stdout + result.stderr
    _says_what_and_why(result.stderr)
    assert "enqueued" not in result.stdout  # the scheduler ran nothing


def test_the_system_check_names_it(marked: None) -> None:
    result = _steward("check", "--database", "default")
    assert result.returncode == 1
    assert "core.E001" in result.stderr
    _says_what_and_why(result.stderr)


def test_a_database_marked_usable_or_never_restored_is_served(committed_db: None, smtp_sink_server: SmtpSink) -> None:
    assert restore_problem(connections["default"]) is None  # no comment at all
    _comment("Nightly copy of the county's database")  # someone else's comment is not a marker
    assert restore_problem(connections["default"]) is None
    _comment(restore_comment(7, usable=True, note="replayed 3 erasure(s) and purge(s)", at=AT))
    try:
        assert restore_problem(connections["default"]) is None
        scheduled = _steward("scheduler", "--at", "2026-03-02T02:30")
        assert scheduled.returncode == 0, scheduled.stderr
        assert "enqueued" in scheduled.stdout
        assert _steward("check", "--database", "default").returncode == 0
        with steward_server(smtp_sink_server, "--workers", "1") as url:
            import httpx

            assert httpx.get(url + "/api/v1/health", timeout=10).status_code == 200
    finally:
        _comment(None)


def test_a_replay_finished_by_hand_marks_the_database_usable(committed_db: None) -> None:
    from django.utils import timezone

    from steward.retention.services import backup_record

    copy = backup_record(taken_at=timezone.now(), place="uk-backup", location="steward-x.dump.age", school_ids=[])
    _comment(restore_comment(copy.pk, usable=False, note=REASON, at=AT))
    try:
        assert _steward("scheduler", "--at", "2026-03-02T02:30").returncode == 1
        replayed = _steward("backup", "replay", "--backup", str(copy.pk), "--mark-usable")
        assert replayed.returncode == 0, replayed.stderr
        assert "now marked usable" in replayed.stdout
        assert restore_problem(connections["default"]) is None
        assert _steward("scheduler", "--at", "2026-03-02T02:30").returncode == 0
    finally:
        _comment(None)
