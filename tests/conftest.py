"""Test set-up: a fresh `test_steward` database on the same PostgreSQL, migrated as the owner.

Tests talk to it as the application does, through `default` (the `steward_app` role, so
row-level security and grants apply); `owner` is there to do what an attacker with superuser
rights could, and to inspect the catalogue.

`STEWARD_TEST_TODAY=2028-02-29` runs the session as if it were that day (noon in London, the clock
ticking), with time-machine: only this process travels, so the `server_url` server and PostgreSQL's
`now()` keep the real time. `make test-dates` runs the tests marked `dates` once per awkward day.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from steward.core import database

if TYPE_CHECKING:
    from tests.notify_fixtures import SmtpSink

# Notification fixtures (smtp_sink, push_receiver, vapid_key, notify_api) and the S3-compatible server
# (s3_server, s3_bucket) for every test directory.
pytest_plugins = ["tests.notify_fixtures", "tests.s3_fixtures"]

_LONDON = ZoneInfo("Europe/London")
# Service desk attachments written by tests (and by the test server) go here, never into the worktree's var/.
ATTACHMENT_DIR = Path(tempfile.gettempdir()) / f"steward-test-attachments-{os.getpid()}"
# So do schools' termination exports (the test server reads them from the same folder).
TERMINATION_DIR = Path(tempfile.gettempdir()) / f"steward-test-terminations-{os.getpid()}"
_TRAVEL_KEY = pytest.StashKey[time_machine.travel]()


def travelled_to(value: str) -> dt.datetime:
    """The moment `STEWARD_TEST_TODAY` names: a date means noon in London that day; a date and
    time is taken as London time unless it names its zone. In UTC, so that time-machine leaves
    the `TZ` environment (which the test server's process inherits) alone."""
    moment = dt.datetime.fromisoformat(value) if "T" in value or " " in value else None
    if moment is None:
        moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(12), tzinfo=_LONDON)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=_LONDON)
    return moment.astimezone(dt.UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dates: depends on the calendar; `make test-dates` runs it as if on several awkward days"
    )
    today = os.environ.get("STEWARD_TEST_TODAY", "").strip()
    if today:  # before collection, so that what test modules compute on import is that day's too
        travel = time_machine.travel(travelled_to(today), tick=True)
        travel.start()
        config.stash[_TRAVEL_KEY] = travel


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(ATTACHMENT_DIR, ignore_errors=True)
    shutil.rmtree(TERMINATION_DIR, ignore_errors=True)
    travel = config.stash.get(_TRAVEL_KEY, None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _TRAVEL_KEY in config.stash:
        return f"STEWARD_TEST_TODAY: running as if on {dt.datetime.now(tz=_LONDON):%A %d %B %Y %H:%M} (London)"
    return None


# One database per test process, so that runs on the same server (a developer's, CI's) never collide.
TEST_DB = f"test_steward_{os.getpid()}"


def _drop_abandoned_test_databases() -> None:
    """Databases of earlier test processes that died without cleaning up."""
    with database.connect_owner("postgres") as conn:
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_steward_%'")]
    for name in names:
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            database.drop_database(name)


@pytest.fixture(autouse=True)
def _attachments_outside_the_worktree(settings: Any) -> None:
    settings.STEWARD_ATTACHMENT_DIR = ATTACHMENT_DIR
    settings.STEWARD_TERMINATION_DIR = TERMINATION_DIR


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        _drop_abandoned_test_databases()
        database.ensure_database(TEST_DB, recreate=True)
        for alias in ("default", "owner"):
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = TEST_DB
            settings.DATABASES[alias]["NAME"] = TEST_DB  # for connections other threads open
        call_command("migrate", database="owner", interactive=False, verbosity=0)
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
        database.drop_database(TEST_DB)


# Tables whose rows come from migrations; everything else is emptied after a committed test.
_MIGRATION_DATA_PREFIXES = ("register_", "mis_codevalue", "django_migrations", "django_content_type", "auth_permission")


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """For tests that need committed rows (a second connection must see them); emptied after."""
    with django_db_blocker.unblock():
        yield
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [t for (t,) in cursor.fetchall() if not t.startswith(_MIGRATION_DATA_PREFIXES)]
            cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


@contextmanager
def steward_server(smtp_sink_server: SmtpSink, *serve_args: str) -> Iterator[str]:
    """`steward serve` (gunicorn, in its own process) on the test database, on a free loopback port,
    with `serve_args` after the port (none: the command's production defaults)."""
    import socket
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "STEWARD_DB_NAME": TEST_DB,
        "STEWARD_CONN_MAX_AGE": "0",
        "STEWARD_ATTACHMENT_DIR": str(ATTACHMENT_DIR),
        "STEWARD_TERMINATION_DIR": str(TERMINATION_DIR),
        **smtp_sink_server.env,
    }
    # The directories and apps the browser tests stand up listen on loopback: approved for this server
    # as an ICT service approves hosts on its private network (`core.outbound`).
    env["STEWARD_OUTBOUND_ALLOWED_PRIVATE"] = "127.0.0.0/8"
    env.pop("STEWARD_EMAIL_BACKEND", None)  # a developer's Notify or file set-up must not apply
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed at teardown; a pipe could fill and stall
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", "serve", "--bind", f"127.0.0.1:{port}", *serve_args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # several workers booting on a loaded machine take a while
    while True:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2):  # noqa: S310 - loopback
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()  # the master stops its workers; a SIGKILL would orphan them
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                log.seek(0)
                detail = log.read()
                raise RuntimeError(f"the test server did not start: {detail}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
def server_url(request: pytest.FixtureRequest, django_db_setup: None, smtp_sink_server: SmtpSink) -> Iterator[str]:
    """A real Steward server (gunicorn, in its own process) on the test database.

    Only committed rows are visible to it: use it with `committed_db`. Its email goes over SMTP
    to the session's sink: a test that takes `smtp_sink` sees it (`smtp_sink.wait_for(n)`).
    Its clock is the real one, so under `STEWARD_TEST_TODAY` the tests that need it are skipped
    rather than compare two different days.
    """
    if _TRAVEL_KEY in request.config.stash:
        pytest.skip("the test server keeps the real clock; STEWARD_TEST_TODAY moves only the test process")
    with steward_server(smtp_sink_server, "--workers", "2") as url:
        yield url
