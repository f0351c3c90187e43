"""Is this machine set up to serve? `steward serve` asks before it starts gunicorn.

Without it a machine with no database, or one not migrated, starts serving and answers every page
with a 500 (the error only in the server's log); an installer should instead be told, once, what to
run. The check connects as the owner role, which may read `django_migrations` (the app role may not).
"""

from __future__ import annotations

import os

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError

from steward.core import embedded_db

SET_UP = "run `steward setup` first (or `make demo` for the demo)"


def setup_problem() -> str | None:
    """What is missing before Steward can serve, with the command that fixes it; None when ready."""
    if not os.environ.get("DATABASE_URL") and not (embedded_db.PGDATA / "PG_VERSION").exists():
        return f"Steward is not set up on this machine (no database in {embedded_db.PGDATA}): {SET_UP}"
    connection = connections["owner"]
    name = connection.settings_dict["NAME"]
    try:
        connection.ensure_connection()
    except OperationalError as error:
        if f'database "{name}" does not exist' in str(error):
            return f"the database {name!r} does not exist: {SET_UP}"
        raise
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        connection.close()
    if pending:
        return f"the database {name!r} lacks {len(pending)} migration(s): {SET_UP}"
    return None
