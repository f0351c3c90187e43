"""Test set-up: a fresh `test_steward` database on the same PostgreSQL, migrated as the owner.

Tests talk to it as the application does, through `default` (the `steward_app` role, so
row-level security and grants apply); `owner` is there to do what an attacker with superuser
rights could, and to inspect the catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from steward.core import database

# One database per test process, so that runs on the same server (a developer's, CI's) never collide.
TEST_DB = f"test_steward_{os.getpid()}"


def _drop_abandoned_test_databases() -> None:
    """Databases of earlier test processes that died without cleaning up."""
    with database.connect_owner("postgres") as conn:
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_steward_%'")]
    for name in names:
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            database.drop_database(name)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        _drop_abandoned_test_databases()
        database.ensure_database(TEST_DB, recreate=True)
        for alias in ("default", "owner"):
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = TEST_DB
        call_command("migrate", database="owner", interactive=False, verbosity=0)
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
        database.drop_database(TEST_DB)


# Tables whose rows come from migrations; everything else is emptied after a committed test.
_MIGRATION_DATA_PREFIXES = ("register_", "django_migrations", "django_content_type", "auth_permission")


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """For tests that need committed rows (a second connection must see them); emptied after."""
    with django_db_blocker.unblock():
        yield
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [t for (t,) in cursor.fetchall() if not t.startswith(_MIGRATION_DATA_PREFIXES)]
            cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
