"""`make demo` on a machine of its own: the embedded PostgreSQL it started stops when the demo is
interrupted (Ctrl-C), unless asked to stay (STEWARD_KEEP_DATABASE=1 or --keep-database); and what it
prints is the address it serves on.

A var/ folder of its own (STEWARD_VAR_DIR), so the demo starts its own server rather than finding
the test session's running (which it would rightly leave alone; test_demo.py checks that side).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.core import embedded_db
from steward.demo.management.commands.demo import served_url
from tests.demo.test_demo import _free_port, _wait_until_serving


@pytest.fixture
def own_var(tmp_path: Path) -> Iterator[dict[str, str]]:
    var = tmp_path / "var"
    env = {
        **os.environ,
        "STEWARD_VAR_DIR": str(var),
        "STEWARD_DEMO_CREDENTIALS": str(tmp_path / "demo-credentials.json"),
        "STEWARD_DEMO_AGENT_DIR": str(tmp_path / "demo-agent"),
        "STEWARD_DEMO_EXPORT_DIR": str(tmp_path / "demo-exports"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DATABASE_URL", "STEWARD_DB_NAME", "STEWARD_KEEP_DATABASE", "STEWARD_BASE_URL", "STEWARD_BIND"):
        env.pop(name, None)
    yield env
    embedded_db.stop(var / "pg")  # whatever a failed run left


def test_interrupting_the_demo_stops_the_server_it_started_and_staying_is_asked_for(
    own_var: dict[str, str],
) -> None:
    pgdata = Path(own_var["STEWARD_VAR_DIR"]) / "pg"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", "demo", "--bind", f"127.0.0.1:{port}"],
        env=own_var,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until_serving(base, process, seconds=400)  # a fresh server: initdb, migrate, load
        assert embedded_db.running_pid(pgdata) is not None
        credentials = json.loads(Path(own_var["STEWARD_DEMO_CREDENTIALS"]).read_text())
        notice = credentials["privacy"]["notices"][0]["services"][0]["url"]
        assert notice.startswith(f"{base}/privacy/")
        with urllib.request.urlopen(notice, timeout=20) as response:  # noqa: S310 - our own loopback server
            assert response.status == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole process group
        output, _ = process.communicate(timeout=120)

    assert process.returncode == 0, output
    assert f"Sign in at {base}/sign-in/" in output
    assert f"Parents sign in at {base}/portal/" in output
    assert "127.0.0.1:8000" not in output  # every printed URL is the address served
    assert "Stopped the embedded PostgreSQL" in output, output[-3000:]
    assert embedded_db.running_pid(pgdata) is None
    assert not (pgdata / "postmaster.pid").exists()

    kept = subprocess.run(
        [sys.executable, "-m", "steward", "demo", "--setup-only"],
        env={**own_var, "STEWARD_KEEP_DATABASE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "already loaded (data kept)" in kept.stdout
    assert "Stopped the embedded PostgreSQL" not in kept.stdout
    assert embedded_db.running_pid(pgdata) is not None  # asked to stay: still running
    assert "Sign in at http://127.0.0.1:8000/sign-in/" in kept.stdout  # the default address again


@pytest.mark.parametrize(
    ("bind", "printed"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),  # every interface: loopback answers too
        ("[::]:9000", "http://127.0.0.1:9000"),
        ("[::1]:8001", "http://[::1]:8001"),
        ("demo.school.invalid:80", "http://demo.school.invalid:80"),
    ],
)
def test_the_printed_address_is_the_one_bound(bind: str, printed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_BASE_URL", raising=False)
    assert served_url(bind) == printed
    monkeypatch.setenv("STEWARD_BASE_URL", "https://steward.county.invalid/")
    assert served_url(bind) == "https://steward.county.invalid"  # a proxy's public address wins
