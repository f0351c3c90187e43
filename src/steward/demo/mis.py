"""Load the demo schools' MIS data the way a real school's arrives: through `steward-agent`.

For each demo school: an MIS-agent API client (OAuth client credentials), an agent
configuration with an export folder holding a synthetic CSV-zip batch, then a short-lived
Steward server on loopback that the agent sends to over real HTTP.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from steward.agent.config import load_config
from steward.agent.runner import run_once
from steward.core.paths import VAR_DIR
from steward.demo.synthetic import generate
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.services import api_client_create

AGENT_DIR = Path(os.environ.get("STEWARD_DEMO_AGENT_DIR", VAR_DIR / "demo-agent"))


SEED = 2026
SCALE = 0.25  # a quarter of a typical school's size: a demo that loads in seconds


def demo_batches(schools: list[Organisation], out: Path, *, today: dt.date | None = None) -> list[Path]:
    """Each school's CSV-zip batch, written under `out`, as its MIS stands on `today` (by default
    the real date in England): last school year and this one up to yesterday, so parents see this
    term's attendance and this week's homework on whatever day the demo runs."""
    manifest = generate(out, schools=len(schools), seed=SEED, formats={"csv"}, today=today, scale=SCALE)
    return [out / f"{entry['urn']}.zip" for entry in manifest["schools"]]


def load_mis_data(schools: list[Organisation], *, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Create each school's agent, write its batch (`demo_batches`) into its export folder and let
    the agent send it."""
    agents = [_agent_for(school) for school in schools]
    with tempfile.TemporaryDirectory() as work:
        for agent, source in zip(agents, demo_batches(schools, Path(work), today=today), strict=True):
            (agent["exports"] / f"{agent['urn']}-full-{SEED}.zip").write_bytes(source.read_bytes())
    with _serving() as url:
        for agent in agents:
            config_path = _write_config(agent, url)
            report = run_once(load_config(config_path))
            if report.exit_code != 0 or not report.sent:
                raise RuntimeError(f"the demo agent for {agent['school']} did not deliver its batch: {report}")
    return [{k: str(v) for k, v in a.items() if k != "exports"} for a in agents]


def _agent_for(school: Organisation) -> dict[str, Any]:
    folder = AGENT_DIR / str(school.urn)
    exports = folder / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    _, client_id, secret = api_client_create(
        name=f"{school.name} MIS agent", kind=ApiClient.Kind.MIS_AGENT, school=school
    )
    secret_file = folder / "client-secret"
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    return {
        "school": school.name,
        "urn": school.urn,
        "client_id": client_id,
        "client_secret": secret,
        "folder": folder,
        "exports": exports,
    }


def _write_config(agent: dict[str, Any], server: str) -> Path:
    config = agent["folder"] / "agent.toml"
    config.write_text(
        f'server = "{server}"\n'
        f'client_id = "{agent["client_id"]}"\n'
        'client_secret_file = "client-secret"\n'
        'watch = "exports"\n'
        'mode = "full"\n'
        'state = "state.json"\n'
        'schedule = "nightly 01:30"\n'
        "settle_seconds = 0\n"
    )
    return Path(config)


@contextlib.contextmanager
def _serving(*, workers: int = 2) -> Iterator[str]:
    """A Steward server (`steward serve`) on a free loopback port for as long as the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module  # nosec B603
        [
            sys.executable,
            *("-m", "steward", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180  # five workers booting on a loaded machine take a while
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2):  # noqa: S310 - loopback  # nosec B310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("could not start a server for the demo agents") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
