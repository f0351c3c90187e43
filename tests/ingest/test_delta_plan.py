"""A nightly delta finds what changed by probing the held rows' unique index, one staged row at a time.

Just after a school's first load PostgreSQL has no statistics for its rows, and on its guess of a
handful the planner would rather scan every held row per staged row, or hash all of them; at a
county's scale that turned a one-second delta into a minute (issue #18's profile). `find_changed`
leaves the planner nothing but nested loops over index scans for small stages: this pins the plan.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.db import connection, transaction
from psycopg import sql

from steward.ingest import merge
from steward.ingest.services import batch_ingest
from steward.mis.models import SessionAttendance
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.django_db

TABLE = SessionAttendance._meta.db_table
UNIQUE_INDEX = f"{TABLE}_source"  # MisRecord's unique (school, source id)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def _plan(school: Organisation, *, stage_rows: int) -> list[dict[str, Any]]:
    """The plan of finding what changed in a stage (of 50 rows, whatever it claims), under the
    batch's own setting (no nested loops) and what `find_changed` sets for a stage of `stage_rows`."""
    with tenant_scope([school.id]), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE stage_plan ON COMMIT DROP AS SELECT source_id, content_hash AS _hash "
                "FROM {} WHERE school_id = %s ORDER BY source_id LIMIT 50"
            ).format(sql.Identifier(TABLE)),
            [school.id],
        )
        cursor.execute("SET LOCAL enable_nestloop = off")
        with merge.planned_for_stage(cursor, stage_rows):
            cursor.execute(
                sql.SQL("EXPLAIN (FORMAT JSON) {}").format(merge.changed_rows_query("stage_plan", TABLE, school.id))
            )
            (explained,) = cursor.fetchone()
        transaction.set_rollback(True)
    document = explained if isinstance(explained, list) else json.loads(explained)
    return _nodes(document[0]["Plan"])


def test_a_small_stage_probes_the_unique_index_just_after_a_first_load() -> None:
    school = factories.school("Probe Primary")
    learners = [b.learner(f"L{n}") for n in range(40)]
    day = dt.date(2026, 9, 7)
    marks = [
        b.mark(f"L{n}", (day + dt.timedelta(days=d)).isoformat(), half)
        for n in range(40)
        for d in range(60)
        for half in ("AM", "PM")
    ]
    data = b.csv_zip({"learners": learners, "session-attendance": marks})
    batch_ingest(school=school, stream=io.BytesIO(data), format="csv-zip", mode="full", sent_by="test")

    probed = _plan(school, stage_rows=50)
    on_target = [n for n in probed if n.get("Relation Name") == TABLE]
    assert [n["Node Type"] for n in probed if n["Node Type"].endswith("Join") or n["Node Type"] == "Nested Loop"] == [
        "Nested Loop"
    ], probed
    assert [(n["Node Type"], n.get("Index Name")) for n in on_target] in (
        [("Index Scan", UNIQUE_INDEX)],
        [("Index Only Scan", UNIQUE_INDEX)],
    ), on_target

    # A large stage keeps the batch's own setting (no nested loops): the held rows are read whole, to join.
    joined = {n["Node Type"] for n in _plan(school, stage_rows=merge.PROBE_UP_TO_ROWS + 1)}
    assert "Nested Loop" not in joined and joined & {"Hash Join", "Merge Join"}, joined
