"""What `steward backup verify` checks inside a restored database, run there by `steward backup check`:
the audit chain, row-level security on every guarded table, and the rows each school has."""

from __future__ import annotations

from typing import Any

from django.db import connections
from psycopg import sql

from steward.audit.selectors import audit_chain_verify
from steward.retention.termination import tenant_models
from steward.tenancy.rls_check import tables_without_forced_rls


def rows_per_school() -> dict[str, int]:
    """Rows of every tenant table, per school id, read as the owner (whom row-level security, forced,
    binds too unless a superuser: the restore's own cluster makes it one)."""
    counts: dict[str, int] = {}
    with connections["owner"].cursor() as cursor:
        for model in tenant_models():
            query = sql.SQL("SELECT school_id, count(*) FROM {} GROUP BY school_id").format(
                sql.Identifier(model._meta.db_table)
            )
            cursor.execute(query.as_string())
            for school_id, rows in cursor.fetchall():
                counts[str(school_id)] = counts.get(str(school_id), 0) + rows
    return dict(sorted(counts.items(), key=lambda kv: int(kv[0])))


def restored_checks() -> dict[str, Any]:
    chain = audit_chain_verify()
    missing = tables_without_forced_rls()
    return {
        "ok": chain.ok and not missing,
        "audit_chain": {"ok": chain.ok, "checked": chain.checked, "broken_at": chain.broken_at, "reason": chain.reason},
        "tables_without_forced_rls": missing,
        "rows_per_school": rows_per_school(),
    }
