"""Database connection settings and the one-off bootstrap of the database and its roles.

Two roles touch the database:
- the *owner* (the embedded server's superuser, or whoever `DATABASE_URL` names) creates the
  database, runs migrations and owns every table;
- `steward_app`, a plain login role with no BYPASSRLS, is what the application connects as,
  so PostgreSQL's row-level security applies to every query it makes.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import dj_database_url
import psycopg
from psycopg import sql

from steward.core import local_secrets
from steward.core.paths import VAR_DIR

APP_ROLE = "steward_app"
# Held while the app role is made or changed (`ensure_app_role`): processes starting together take turns.
APP_ROLE_LOCK = 7_300_001
DEFAULT_DB_NAME = os.environ.get("STEWARD_DB_NAME", "steward")
EMBEDDED_ENGINE = "steward.core.embedded_backend"
APPEND_ONLY_TABLES: set[str] = set()  # filled by apps whose tables may only grow (audit)


def owner_settings() -> dict[str, Any]:
    """Django DATABASES entry for the owner role."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
        config["ENGINE"] = "django.db.backends.postgresql"
    else:
        from steward.core import embedded_db

        # No host here: the embedded backend starts the server when it first connects, so
        # importing the settings starts nothing.
        config = {
            "ENGINE": EMBEDDED_ENGINE,
            "NAME": DEFAULT_DB_NAME,
            "USER": embedded_db.SUPERUSER,
            "PASSWORD": "",  # empty: the embedded server trusts its local socket  # nosec B105
            "HOST": "",
            "PORT": "",
        }
    if os.environ.get("STEWARD_DB_NAME"):
        config["NAME"] = os.environ["STEWARD_DB_NAME"]
    config.setdefault("OPTIONS", {})
    config["CONN_MAX_AGE"] = 0
    return config


def app_settings(owner: dict[str, Any]) -> dict[str, Any]:
    """Django DATABASES entry for `steward_app`: the owner's server and database, our role."""
    config = dict(owner)
    config["USER"] = APP_ROLE
    config["PASSWORD"] = app_role_password() if os.environ.get("DATABASE_URL") else ""
    config["CONN_MAX_AGE"] = int(os.environ.get("STEWARD_CONN_MAX_AGE", "60"))
    config["CONN_HEALTH_CHECKS"] = True
    # Ingest stages batches in temporary tables: give them room before they spill to disk.
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "options": "-c temp_buffers=256MB -c work_mem=64MB"}
    return config


def replica_settings(app: dict[str, Any], urls: str | None = None) -> dict[str, dict[str, Any]]:
    """DATABASES entries `replica_0`, `replica_1`... for the hot standbys in `DATABASE_REPLICA_URLS`
    (comma-separated `postgresql://` URLs; empty: none). Each is the app entry (`steward_app`, its
    options and password, so row-level security applies exactly as on the primary) on the replica's
    host and port; a URL may name its own database, user and password. A standby that does not
    answer is given up on after a few seconds (`core.replicas` then reads the primary)."""
    raw = os.environ.get("DATABASE_REPLICA_URLS", "") if urls is None else urls
    entries: dict[str, dict[str, Any]] = {}
    for index, url in enumerate(u.strip() for u in raw.split(",") if u.strip()):
        parsed: dict[str, Any] = dict(dj_database_url.parse(url))
        if not parsed.get("HOST"):
            raise ValueError(f"DATABASE_REPLICA_URLS entry {index + 1} names no host: postgresql://HOST:PORT/DATABASE")
        config = dict(app)
        config["ENGINE"] = "django.db.backends.postgresql"
        for key in ("HOST", "PORT", "NAME", "USER", "PASSWORD"):
            if parsed.get(key):
                config[key] = parsed[key]
        config["OPTIONS"] = {**app.get("OPTIONS", {}), **parsed.get("OPTIONS", {}), "connect_timeout": 3}
        entries[f"replica_{index}"] = config
    return entries


def app_role_password() -> str:
    """The app role's password on a real server: from the environment, else kept in var/."""
    if os.environ.get("STEWARD_APP_DB_PASSWORD"):
        return os.environ["STEWARD_APP_DB_PASSWORD"]
    return local_secrets.read_or_make(VAR_DIR / "steward_app.password", lambda: secrets.token_urlsafe(32).encode())


def connect_owner(dbname: str) -> psycopg.Connection[Any]:
    owner = owner_settings()
    host = owner.get("HOST") or None
    if host is None and owner["ENGINE"] == EMBEDDED_ENGINE:
        from steward.core import embedded_db

        host = embedded_db.ensure_running()
    return psycopg.connect(
        dbname=dbname,
        user=owner["USER"],
        password=owner.get("PASSWORD") or None,
        host=host,
        port=str(owner.get("PORT") or "") or None,
        autocommit=True,
    )


def ensure_database(dbname: str, *, recreate: bool = False) -> None:
    """Create the database (and the app role) if missing; `recreate` drops it first (tests)."""
    with connect_owner(_maintenance_db()) as conn:
        ensure_app_role(conn)
        if recreate:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(dbname)))


def drop_database(dbname: str) -> None:
    with connect_owner(_maintenance_db()) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def ensure_app_role(conn: psycopg.Connection[Any], role: str = APP_ROLE) -> None:
    """The application's login role: no superuser, no BYPASSRLS, no CREATEDB.

    Processes that start together on a new server (the dated test runs, a server and its worker)
    each get here, all on the maintenance database, where an advisory lock makes them take turns.
    Without it, two `CREATE ROLE`s collide on the catalogue's unique index, and two `ALTER ROLE`s on
    the same role can fail with "tuple concurrently updated"."""
    conn.execute("SELECT pg_advisory_lock(%s)", [APP_ROLE_LOCK])
    try:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").format(sql.Identifier(role))
        )
        if os.environ.get("DATABASE_URL"):
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(app_role_password()))
            )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [APP_ROLE_LOCK])


def grant_app_privileges(cursor: Any) -> None:
    """Give the app role DML on every table, then take back what append-only tables forbid.

    Run after every migration, so a new table is never left without (or with too many) grants.
    """
    role = sql.Identifier(APP_ROLE)
    cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    cursor.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role))
    cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))
    cursor.execute(sql.SQL("REVOKE ALL ON TABLE django_migrations FROM {}").format(role))
    for table in sorted(APPEND_ONLY_TABLES):
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:  # not there (yet, or any more: a migration taken back)
            continue
        cursor.execute(
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON TABLE {} FROM {}").format(sql.Identifier(table), role)
        )


def _maintenance_db() -> str:
    return "postgres"
