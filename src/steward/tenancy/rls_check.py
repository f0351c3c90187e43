"""Which tables that must sit behind row-level security do not: the check a restored database (and
the test suite) runs, read from the catalogue as the owner."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connections

from steward.register.classification import PersonalData
from steward.tenancy.models import Organisation, TenantModel
from steward.tenancy.rls import POLICY_NAME


def _names_a_school(model: type[Any]) -> bool:
    return any(
        f.name == "school" and f.is_relation and f.related_model is Organisation for f in model._meta.concrete_fields
    )


def guarded_tables() -> list[str]:
    """Every tenant table, and every table holding a school's personal data that names the school."""
    tables = {
        m._meta.db_table
        for m in apps.get_models()
        if not m._meta.proxy
        and (
            issubclass(m, TenantModel) or (isinstance(getattr(m, "privacy", None), PersonalData) and _names_a_school(m))
        )
    }
    return sorted(tables)


def tables_without_forced_rls(*, using: str = "owner") -> list[str]:
    """The guarded tables that lack row-level security, its FORCE (which binds the table's owner too)
    or Steward's isolation policy; empty when every one has all three."""
    tables = guarded_tables()
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r' "
            "AND c.relrowsecurity AND c.relforcerowsecurity "
            "AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)",
            [tables, POLICY_NAME],
        )
        good = {name for (name,) in cursor.fetchall()}
    return [t for t in tables if t not in good]
