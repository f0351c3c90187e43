"""Is this machine set up to serve, and is its database one that may be served? `steward serve` asks
before it starts gunicorn (and `worker` and `scheduler` ask the second).

Without it a machine with no database, or one not migrated, starts serving and answers every page
with a 500 (the error only in the server's log); an installer should instead be told, once, what to
run. The check connects as the owner role, which may read `django_migrations` (the app role may not).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

from django.core.checks import CheckMessage, Error
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
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


# A restored database says on itself whether it may be used (`COMMENT ON DATABASE`, written by
# `retention/backups/restore.py`): NOT USABLE while the restore runs and when it did not finish
# (a copy without its replay would serve again the pupils erased since the backup was taken).
RESTORE_COMMENT = "Steward restore of backup {backup}: {state} ({note}, {at:%Y-%m-%d %H:%M} UTC)"
_RESTORE_COMMENT = re.compile(r"^Steward restore of backup (\d+): (usable|NOT USABLE) \((.*), ([0-9: -]+) UTC\)$", re.S)
NOT_USABLE = "NOT USABLE"


def restore_comment(backup: int, *, usable: bool, note: str, at: dt.datetime) -> str:
    """The database comment a restore writes: the one `restore_problem` reads back."""
    return RESTORE_COMMENT.format(backup=backup, state="usable" if usable else NOT_USABLE, note=note, at=at)


def restore_problem(connection: BaseDatabaseWrapper) -> str | None:
    """Why the database behind `connection` must not be served (a restore whose replay did not finish),
    with what to do; None for a database no restore marked, or one marked usable.

    One query, asked by `steward serve`, `worker` and `scheduler` as they start (and by the system
    check `core.E001`), never per request: the marker changes only when a restore writes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    if row is None or not row[1]:
        return None
    name, comment = row
    match = _RESTORE_COMMENT.match(comment)
    if match is None or match.group(2) != NOT_USABLE:
        return None
    backup, _, reason, at = match.groups()
    host = connection.settings_dict.get("HOST") or "the embedded server"
    return (
        f"the database {name!r} ({host}) is a restore of backup {backup} marked NOT USABLE since {at} UTC: {reason}. "
        f"Serving it could show again what was erased after the backup was taken. Finish the restore: if its "
        f"data is back and only the replay stopped, run `steward backup replay --backup {backup} --mark-usable` "
        f"against it (DATABASE_URL naming it); otherwise restore backup {backup} again with `steward backup "
        f"restore` into a new data directory or an empty database"
    )


def check_restored_database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check `core.E001` (`steward check --database default`): the restore marker, as `serve` asks it.

    Tagged `database`, so Django runs it only when asked for databases (`check --database`, `migrate`):
    an ordinary command does not connect for it."""
    errors: list[CheckMessage] = []
    for alias in databases or []:
        try:
            problem = restore_problem(connections[alias])
        except OperationalError:
            continue  # an unreachable database is reported by the command itself
        if problem:
            errors.append(Error(problem, id="core.E001"))
    return errors
