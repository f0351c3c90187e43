"""An installer's first commands, run as they would be (`python -m steward ...` in a subprocess):
`steward serve` before any set-up says what to run instead of serving 500s; a wrong
`DATABASE_URL` is one clear line, not a traceback; `steward --help` shows Steward's commands first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.core import database


def steward(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "steward", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr and no traceback; that line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens


def test_serve_on_a_machine_never_set_up_says_to_run_setup_and_starts_nothing(tmp_path: Path) -> None:
    env = {"STEWARD_VAR_DIR": str(tmp_path / "var"), "STEWARD_BIND": f"127.0.0.1:{closed_port()}", "DATABASE_URL": ""}

    result = steward("serve", env=env)

    line = one_line_error(result)
    assert "not set up" in line and "run `steward setup`" in line, line
    assert not (tmp_path / "var" / "pg").exists()  # no server initialised to find that out


@pytest.fixture
def unmigrated_database(django_db_setup: None) -> Iterator[str]:
    """A database that exists on the embedded server but was never migrated."""
    name = f"steward_unmigrated_{os.getpid()}"
    database.ensure_database(name, recreate=True)
    yield name
    database.drop_database(name)


def test_serve_on_a_database_not_migrated_says_to_run_setup(unmigrated_database: str) -> None:
    result = steward("serve", "--bind", f"127.0.0.1:{closed_port()}", env={"STEWARD_DB_NAME": unmigrated_database})

    line = one_line_error(result)
    assert f"the database {unmigrated_database!r} lacks" in line and "migration(s)" in line, line
    assert "run `steward setup`" in line


def test_serve_on_a_database_that_does_not_exist_says_to_run_setup(django_db_setup: None) -> None:
    name = f"steward_missing_{os.getpid()}"
    database.drop_database(name)

    line = one_line_error(steward("serve", "--bind", f"127.0.0.1:{closed_port()}", env={"STEWARD_DB_NAME": name}))

    assert line.endswith(
        f"the database {name!r} does not exist: run `steward setup` first (or `make demo` for the demo)"
    )


@pytest.mark.parametrize("command", [("serve",), ("setup",), ("migrate",)])
def test_a_database_url_nothing_answers_at_is_one_line_without_the_password(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    port = closed_port()
    url = f"postgresql://steward:s3cret-pw@127.0.0.1:{port}/steward"

    line = one_line_error(steward(*command, env={"DATABASE_URL": url, "STEWARD_VAR_DIR": str(tmp_path)}))

    assert line.startswith(
        f"steward: cannot connect to the database DATABASE_URL names (postgresql://steward@127.0.0.1:{port}/steward)"
    )
    assert "s3cret-pw" not in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://steward:pw@db.example/steward", "must be a PostgreSQL URL"),
        ("postgresql://steward:pw@db.example:port/steward", "port that is not a number"),
        ("postgresql://steward:pw@db.example:5432", "names no database"),
    ],
)
def test_a_malformed_database_url_is_one_line(url: str, says: str, tmp_path: Path) -> None:
    line = one_line_error(steward("setup", env={"DATABASE_URL": url, "STEWARD_VAR_DIR": str(tmp_path)}, timeout=60))

    assert line.startswith("steward: DATABASE_URL") and says in line, line
    assert "pw@" not in line


@pytest.mark.parametrize("args", [(), ("help",), ("--help",)])
def test_help_lists_stewards_own_commands_first(args: tuple[str, ...]) -> None:
    result = steward(*args, env={}, timeout=60)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ours = lines.index("Steward's commands:")
    django = next(n for n, line in enumerate(lines) if line.startswith("Django's commands"))
    listed = [line.split()[0] for line in lines[ours + 1 : django] if line.strip()]
    assert {"demo", "setup", "serve", "worker", "scheduler", "ingest", "export_ctf", "retention"} <= set(listed)
    assert "migrate" not in listed and "runserver" not in listed
    assert "migrate" in "\n".join(lines[django:])
    demo = next(line for line in lines[ours:django] if line.split()[:1] == ["demo"])
    assert "load the demo local authority" in demo  # each with its one-line help
