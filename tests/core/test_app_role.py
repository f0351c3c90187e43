"""The app role is made once however many processes start together on a new server (the dated
test runs did, and two `CREATE ROLE`s collided on the catalogue's unique index)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from psycopg import sql

from steward.core import database

PROBE = "steward_race_probe"


def _ensure(_: int) -> None:
    with database.connect_owner("postgres") as conn:
        database.ensure_app_role(conn, role=PROBE)


def test_sessions_starting_together_make_one_role_with_the_apps_limits() -> None:
    with database.connect_owner("postgres") as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(PROBE)))
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(_ensure, range(16)))  # raises if any session failed
        with database.connect_owner("postgres") as conn:
            rows = conn.execute(
                "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = %s", [PROBE]
            ).fetchall()
        assert rows == [(False, False, False, True)]
    finally:
        with database.connect_owner("postgres") as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(PROBE)))
