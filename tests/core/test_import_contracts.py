"""`make lint` refuses a new upward import or a new cycle between apps (issue #11).

Each case runs the real `lint-imports` with the repository's contracts on a copy of the source with
one import added inside a function (grimp reads those too), so the test fails if a contract stops
biting, not only if today's code breaks one.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - runs the repository's own lint-imports
import sys
from pathlib import Path

import pytest

import steward

SRC = Path(steward.__file__).parent
PYPROJECT = SRC.parents[1] / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp_path: Path, module: str | None = None, line: str = "") -> subprocess.CompletedProcess[str]:
    """Copy the source to `tmp_path`, append a function that imports `line` to `module`, lint it."""
    shutil.copytree(SRC, tmp_path / "steward", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    if module:
        target = tmp_path / "steward" / module
        target.write_text(target.read_text() + f"\n\ndef _added() -> None:\n    {line}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(  # nosec B603 - fixed arguments
        [str(LINT_IMPORTS), "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_contracts_are_kept_today(tmp_path: Path) -> None:
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # mis (data) asking the portal (a face): an upward import, even inside a function.
        ("mis/selectors.py", "from steward.portal import selectors", "Apps are layered"),
        # tenancy and mis share a layer, and mis imports tenancy: tenancy importing mis closes a loop.
        ("tenancy/selectors.py", "from steward.mis import models", "No import cycle between apps"),
        # The agent runs at the school and must not import the server.
        ("agent/state.py", "import django", "The agent imports nothing"),
    ],
)
def test_lint_refuses_a_new_upward_import_or_cycle(tmp_path: Path, module: str, line: str, broken: str) -> None:
    result = _lint(tmp_path, module, line)
    assert result.returncode == 1, result.stdout
    summary = [row for row in result.stdout.splitlines() if row.startswith(broken)]
    assert summary and "BROKEN" in summary[0], result.stdout
