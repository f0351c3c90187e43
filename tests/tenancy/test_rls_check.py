"""The production check of row-level security (`tenancy.rls_check`), which `steward backup verify`
runs in a restored database: it passes on a migrated database and names a table that lost FORCE."""

from __future__ import annotations

import pytest
from django.db import connections

from steward.tenancy.rls_check import guarded_tables, tables_without_forced_rls

pytestmark = pytest.mark.django_db(databases=["default", "owner"])


def test_every_guarded_table_of_a_migrated_database_has_forced_row_level_security() -> None:
    assert {"mis_learner", "retention_restorereplay", "audit_auditevent"} <= set(guarded_tables())
    assert tables_without_forced_rls() == []


def test_a_table_that_lost_force_or_its_policy_is_named() -> None:
    with connections["owner"].cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("ALTER TABLE mis_learner NO FORCE ROW LEVEL SECURITY")
        cursor.execute("DROP POLICY steward_tenant_isolation ON tenancy_dataprotectioncontact")
    assert tables_without_forced_rls() == ["mis_learner", "tenancy_dataprotectioncontact"]
