"""`steward`: Django's management commands with Steward's settings (and the embedded database).

Two things differ from `django-admin`, both for someone installing Steward for the first time:
- `steward`, `steward help` and `steward --help` list Steward's own commands first, each with its
  one-line help, and Django's after them (Django's list is alphabetical by app, which buries
  `demo`, `setup` and `serve` among `auth` and `contenttypes`);
- a database that cannot be reached (a wrong `DATABASE_URL`, an embedded server that cannot start)
  ends the command with one line saying which database and why, not a traceback.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

HELP_ARGUMENTS: tuple[list[str], ...] = ([], ["help"], ["--help"], ["-h"])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    problem = database_url_problem(os.environ.get("DATABASE_URL", ""))
    if problem:
        sys.exit(f"steward: {problem}")
    import psycopg
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    from steward.core.embedded_db import EmbeddedDatabaseError

    try:
        if sys.argv[1:] in HELP_ARGUMENTS:
            sys.stdout.write(help_text())
            return
        execute_from_command_line(sys.argv)
    except (OperationalError, psycopg.OperationalError) as error:
        sys.exit(f"steward: cannot connect to {database_described()}: {first_line(error)}")
    except EmbeddedDatabaseError as error:
        sys.exit(f"steward: {error}")


def database_url_problem(url: str) -> str | None:
    """Why `DATABASE_URL` cannot name a PostgreSQL database, or None (also when it is unset)."""
    if not url:
        return None
    parts = urlsplit(url)
    example = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return f"DATABASE_URL must be a PostgreSQL URL such as {example}, not one of scheme {parts.scheme!r}"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"DATABASE_URL has a port that is not a number (expected {example})"
    if not parts.path.strip("/"):
        return f"DATABASE_URL names no database (expected {example})"
    return None


def database_described() -> str:
    """The database in words, without its password."""
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"the database DATABASE_URL names (postgresql://{user}{parts.hostname or ''}{port}{parts.path})"
    from steward.core.embedded_db import PGDATA

    return f"the embedded PostgreSQL (data and log in {PGDATA})"


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def help_text() -> str:
    """Steward's commands with their one-line help, then Django's by app."""
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    commands = get_commands()
    ours = sorted(name for name, app in commands.items() if app.startswith("steward."))
    width = max(len(name) for name in ours) + 2
    lines = [
        "Usage: steward COMMAND [options]   (`steward help COMMAND` for a command's options)",
        "",
        "Steward's commands:",
    ]
    for name in ours:
        summary = str(load_command_class(commands[name], name).help).split(". ")[0].rstrip(".")
        lines.append(f"  {name:<{width}}{summary}")
    lines += ["", "Django's commands (maintenance; the database ones act on Steward's database):"]
    by_app: dict[str, list[str]] = {}
    for name, app in commands.items():
        if name not in ours:
            by_app.setdefault("django" if app == "django.core" else app.rpartition(".")[-1], []).append(name)
    for app in sorted(by_app):
        lines.append(f"  [{app}] {', '.join(sorted(by_app[app]))}")
    return "\n".join(lines) + "\n"
