"""One writer of a school's versioned rows at a time, so its change feed never skips a row.

Recipients read `?since=<change_version>` per school and keep the highest version they saw.
Versions come from one sequence and are taken when a row is written, not when its transaction
commits. If two transactions could write one school's rows at once, the one that took the
higher versions could commit first; a recipient reading in between would move its `since` past
the lower versions, which commit later and are then never sent (a missed deletion stays on the
recipient's side for ever).

So every writer of a school's MIS records or tombstones (ingest's merge, erasure, the retention
sweep and its replay, the termination purge, a lifted restriction) takes this transaction-scoped
lock *before* its first `nextval('mis_change_version')` of that school. The next writer can take
versions only after the previous one committed, and a committed transaction is visible before
its locks are released, so within a school the order of versions is the order of commits: a
snapshot never sees a later version of the school without every earlier one.
Every feed (API pages, deletes, exports, webhooks) reads one school at a time, so nothing
orders versions across schools. It relies on the sequence handing out increasing values across
sessions, i.e. `CACHE 1` (the default; a test checks it).

Lock order: a writer takes this lock before the audit chain's (`audit_record`), as ingest does,
or two writers could wait on each other.
"""

from __future__ import annotations

from django.db import connections

# The two-key advisory lock space: ('INGS', school id). Ingest took this key first; keeping it
# means a deployment mid-upgrade still serialises old and new writers.
SCHOOL_WRITE_LOCK = 0x494E4753


class NotInTransaction(RuntimeError):
    """The lock is transaction-scoped: taken outside a transaction it would end at once."""


def lock_school_versions(*, school_id: int, using: str = "default") -> None:
    """Wait until no other transaction writes this school's versioned rows, then hold that until commit."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise NotInTransaction("lock_school_versions() must run inside the writer's transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SCHOOL_WRITE_LOCK, school_id])
