"""Row-level security: the second wall. Raw SQL through the app role sees only scoped schools."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, connections, transaction

from steward.core.database import APP_ROLE
from steward.register.classification import PersonalData
from steward.tenancy.models import DataProtectionContact, Organisation, TenantModel
from steward.tenancy.scope import TenantScopeMissing, tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db(databases=["default", "owner"])


@pytest.fixture
def two_schools() -> tuple[Organisation, Organisation]:
    a, b = factories.school("School A"), factories.school("School B")
    with tenant_scope([a.id, b.id]):
        for school in (a, b):
            DataProtectionContact.objects.create(
                school=school, kind="dpo", name=f"DPO of {school.name}", email=f"dpo{school.id}@example.invalid"
            )
    return a, b


def _raw(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def test_the_app_connects_as_a_role_that_cannot_bypass_row_level_security() -> None:
    row = _raw("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert row == [(APP_ROLE, False, False)]


def test_with_no_school_set_a_raw_query_returns_no_tenant_rows(two_schools: tuple[Organisation, ...]) -> None:
    assert _raw("SELECT count(*) FROM tenancy_dataprotectioncontact") == [(0,)]
    assert _raw("SELECT current_setting('steward.school_ids', true)") in ([("",)], [(None,)])


def test_raw_sql_in_school_a_scope_sees_only_school_a(two_schools: tuple[Organisation, ...]) -> None:
    a, b = two_schools
    with tenant_scope([a.id]):
        rows = _raw("SELECT school_id, name FROM tenancy_dataprotectioncontact")
        by_id = _raw("SELECT name FROM tenancy_dataprotectioncontact WHERE school_id = %s", [b.id])
    assert rows == [(a.id, "DPO of School A")]
    assert by_id == []


def test_school_a_cannot_update_or_delete_school_b_rows_by_raw_sql(two_schools: tuple[Organisation, ...]) -> None:
    a, b = two_schools
    with tenant_scope([a.id]), connection.cursor() as cursor:
        cursor.execute("UPDATE tenancy_dataprotectioncontact SET name = 'hijacked' WHERE school_id = %s", [b.id])
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM tenancy_dataprotectioncontact WHERE school_id = %s", [b.id])
        assert cursor.rowcount == 0
    with tenant_scope([b.id]):
        assert list(DataProtectionContact.objects.values_list("name", flat=True)) == ["DPO of School B"]


def test_school_a_cannot_write_a_row_into_school_b(two_schools: tuple[Organisation, ...]) -> None:
    a, b = two_schools
    with tenant_scope([a.id]):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _raw(
                "INSERT INTO tenancy_dataprotectioncontact (school_id, kind, name, email, phone) "
                "VALUES (%s, 'data_lead', 'x', 'x@example.invalid', '')",
                [b.id],
            )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            _raw("UPDATE tenancy_dataprotectioncontact SET school_id = %s", [b.id])
    with tenant_scope([b.id]):
        assert DataProtectionContact.objects.count() == 1


def test_the_tenant_manager_refuses_to_run_outside_a_scope(two_schools: tuple[Organisation, ...]) -> None:
    with pytest.raises(TenantScopeMissing):
        list(DataProtectionContact.objects.all())


def test_the_tenant_manager_filters_to_the_scope(two_schools: tuple[Organisation, ...]) -> None:
    a, b = two_schools
    with tenant_scope([b.id]):
        assert [c.school_id for c in DataProtectionContact.objects.all()] == [b.id]


def test_a_nested_scope_restores_the_outer_one(two_schools: tuple[Organisation, ...]) -> None:
    a, b = two_schools
    with tenant_scope([a.id]):
        with tenant_scope([b.id]):
            assert _raw("SELECT school_id FROM tenancy_dataprotectioncontact") == [(b.id,)]
        assert _raw("SELECT school_id FROM tenancy_dataprotectioncontact") == [(a.id,)]


def _school_personal_data_tables() -> list[str]:
    """Every table the field classification says holds personal data and that names a school: the
    list comes from the models, so a new such table without row-level security fails the test below."""

    def names_a_school(model: type[Any]) -> bool:
        return any(
            f.name == "school" and f.is_relation and f.related_model is Organisation
            for f in model._meta.concrete_fields
        )

    return sorted(
        m._meta.db_table
        for m in apps.get_models()
        if isinstance(getattr(m, "privacy", None), PersonalData) and names_a_school(m) and not m._meta.proxy
    )


def test_every_table_holding_a_schools_personal_data_has_forced_row_level_security_and_the_policy() -> None:
    tables = _school_personal_data_tables()
    tenant_tables = {m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy}
    processor_records = {
        "audit_auditevent",
        "portal_parentlink",
        "retention_contracttermination",
        "retention_restorereplay",
    }
    assert processor_records <= set(tables)
    assert {"tenancy_dataprotectioncontact", "mis_learner"} <= set(tables)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "       EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = %s"
            "                  AND concat(p.qual, ' ', p.with_check) LIKE '%%steward_current_school_ids()%%') "
            "FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r' ORDER BY c.relname",
            ["steward_tenant_isolation", tables],
        )
        found = cursor.fetchall()
    assert found == [(t, True, True, True) for t in tables]
    # Tenant tables without personal data (switches, holds...) keep their policy too.
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c WHERE c.relname = ANY(%s) AND c.relforcerowsecurity "
            "AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)",
            [sorted(tenant_tables), "steward_tenant_isolation"],
        )
        assert cursor.fetchone() == (len(tenant_tables),)


def test_the_policy_works_out_the_schools_once_per_statement_not_per_row(
    two_schools: tuple[Organisation, ...],
) -> None:
    """The policy's call of the scope function is a scalar subquery (an InitPlan), evaluated once for
    the statement; the scan filters each row by its value, not by parsing `steward.school_ids` again.
    The support-window lookup sits behind a CASE in its own function, so it runs only for a window."""
    a, _ = two_schools
    with tenant_scope([a.id]):
        plan = "\n".join(str(r[0]) for r in _raw("EXPLAIN VERBOSE SELECT * FROM tenancy_dataprotectioncontact"))
    assert "InitPlan" in plan, plan
    scan = next(line for line in plan.splitlines() if "Filter:" in line or "Index Cond:" in line)
    assert "(InitPlan 1).col1" in scan and "current_setting" not in scan, plan
    assert "steward_support_school_ids()" not in plan.split("InitPlan 1", 1)[0], plan


def test_every_policy_calling_a_scope_function_calls_it_once_per_statement() -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT tablename, policyname, concat(qual, ' ', with_check) FROM pg_policies "
            "WHERE schemaname = 'public' AND concat(qual, ' ', with_check) LIKE '%%steward_%%'"
        )
        policies = cursor.fetchall()
    assert len(policies) > 60
    direct = [(t, p) for t, p, text in policies if "SELECT steward_" not in text]
    assert direct == []
