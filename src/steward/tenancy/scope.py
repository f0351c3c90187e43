"""The tenant scope: which schools' rows the current unit of work may touch.

`tenant_scope([...])` opens a transaction and sets the PostgreSQL setting
`steward.school_ids` for it (row-level security reads it) and a context variable that the
tenant-scoped managers read. Outside a scope, tenant managers refuse to run and PostgreSQL
returns no tenant rows: both walls fail closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, transaction

_current: ContextVar[tuple[int, ...] | None] = ContextVar("steward_school_ids", default=None)
# What the database was told: the named schools and the support window as (window id, user id).
_DbScope = tuple[tuple[int, ...], "tuple[int, int] | None"]
_db: ContextVar[_DbScope | None] = ContextVar("steward_db_scope", default=None)
# Whether the unit of work is inside `processor_scope` (for a replica's connection: see below).
_processor: ContextVar[bool] = ContextVar("steward_processor_scope", default=False)


@dataclass(frozen=True)
class SupportEntry:
    """A live support window of the signed-in processor user (`tenancy.SupportWindow`)."""

    window_id: int
    user_id: int
    school_id: int


class TenantScopeMissing(RuntimeError):
    """A tenant table was queried outside `tenant_scope`."""


class EstateScopeRefused(RuntimeError):
    """`estate_scope` was asked for inside a scope that names schools (a school user's or a
    parent's request): widening it to every school would show them other schools' rows."""


def current_school_ids() -> tuple[int, ...]:
    ids = _current.get()
    if ids is None:
        raise TenantScopeMissing("tenant data was queried outside tenant_scope(); name the schools first")
    return ids


@contextmanager
def tenant_scope(
    school_ids: Iterable[int], *, using: str = "default", support: SupportEntry | None = None
) -> Iterator[tuple[int, ...]]:
    """Run the block in one transaction that can see (and write) only these schools' rows.

    With `support` (a processor user's live support window, found by the tenancy middleware), the
    window's school joins the scope differently on each wall: the tenant managers are told its id,
    but PostgreSQL is told only the window and the user, and adds the school itself while the window
    is open by its own clock. A window that closes mid-request closes the database too."""
    named = tuple(sorted({int(i) for i in school_ids}))
    ids = tuple(sorted({*named, support.school_id})) if support else named
    window = (support.window_id, support.user_id) if support else None
    outer_db = _db.get()
    nested = connections[using].in_atomic_block
    token, db_token = _current.set(ids), _db.set((named, window))
    try:
        with transaction.atomic(using=using):
            _set_db_scope(named, window, using)
            yield ids
            # SET LOCAL outlives a released savepoint: hand the enclosing transaction back the
            # scope it had (none, if it had none). On an error the savepoint's rollback does it.
            # The outermost transaction's commit ends the setting by itself.
            if nested:
                _set_db_scope(*(outer_db or ((), None)), using=using)
    finally:
        _current.reset(token)
        _db.reset(db_token)


@contextmanager
def estate_scope(*, using: str = "default") -> Iterator[tuple[int, ...]]:
    """Run the block in one tenant scope over every school of the estate: processor-side work only.

    The one way to open all schools' rows at once, for work the processor does across the estate
    (scheduled deliveries, rights reminders, the retention sweep's processor-wide part, restore
    replay, and the recipient API's list of the schools that release data to it). It is never for
    a page a school's staff or a parent opens: inside a scope that already names schools (the
    middleware's scope of the chosen school, `parent_required`'s scope of a parent's schools) it
    raises `EstateScopeRefused` instead of widening it, so a call that strays into such a request
    fails closed. The processor's own pages and the API run in an empty scope and may open it.
    """
    if _current.get():
        raise EstateScopeRefused(
            "estate_scope() inside a scope of named schools: it is for processor-side work, never a school's request"
        )
    organisation = apps.get_model("tenancy", "Organisation")
    school_ids = organisation.objects.using(using).filter(kind="school").values_list("id", flat=True)
    with tenant_scope(list(school_ids), using=using) as ids:
        yield ids


@contextmanager
def processor_scope(*, using: str = "default") -> Iterator[None]:
    """Run the block in one transaction that sees the processor's own records of every school.

    Opens (besides each school's rows in its scope) the tables that hold a school's personal data
    but are also the processor's records: the audit log (including events of no school), parent
    links, contract terminations and the restore-replay log. It leaves `steward.school_ids` alone,
    so MIS and other tenant tables stay as closed as the tenant scope keeps them. Only
    processor-side services name it (audit verify and prune, terminations, the retention sweep's
    processor-wide part, restore replay); request middleware never does, for anyone.
    """
    nested = connections[using].in_atomic_block
    token = _processor.set(True)
    try:
        with transaction.atomic(using=using):
            outer = _db_processor_scope(using) if nested else ""
            _set_db_processor_scope("on", using)
            yield
            if nested:  # as in tenant_scope: hand the enclosing transaction back what it had
                _set_db_processor_scope(outer, using)
    finally:
        _processor.reset(token)


def replica_session_settings() -> dict[str, str]:
    """What the database is told of the current scope, for a replica's connection.

    On the primary each scope sets these for its own transaction; a read routed to a hot standby
    (`core.replicas`) runs on another connection, outside that transaction, so core sets them there
    (for the session) from this before each statement whose scope differs. Outside every scope they
    are empty: the replica's row-level security then shows no school's rows, as the primary's does."""
    named, window = _db.get() or ((), None)
    return {
        "steward.school_ids": ",".join(map(str, named)),
        "steward.support_window": str(window[0]) if window else "",
        "steward.user_id": str(window[1]) if window else "",
        "steward.processor_scope": "on" if _processor.get() else "",
    }


def _db_processor_scope(using: str) -> str:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('steward.processor_scope', true), '')")
        return str(cursor.fetchone()[0])  # type: ignore[index]


def _set_db_processor_scope(value: str, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('steward.processor_scope', %s, true)", [value])


def _set_db_scope(ids: tuple[int, ...], window: tuple[int, int] | None, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('steward.school_ids', %s, true), set_config('steward.support_window', %s, true), "
            "set_config('steward.user_id', %s, true)",
            [",".join(map(str, ids)), str(window[0]) if window else "", str(window[1]) if window else ""],
        )
