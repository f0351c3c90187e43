"""Where Steward keeps its files: the repository root and the `var/` folder of local state."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]
VAR_DIR = Path(os.environ.get("STEWARD_VAR_DIR", PROJECT_DIR / "var")).resolve()
