"""At most ten queries a portal page, whatever the number of children's records.

Run on committed rows with no test transaction around the request, so the count is the one a
real request makes (no savepoints of a wrapping test transaction).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from steward.portal.models import PortalSettings
from steward.tenancy.scope import tenant_scope
from tests.portal import families as f

pytestmark = pytest.mark.dates  # the families' records are dated from today

PAGES = ["", "homework/", "diary/", "attendance/", "lessons/", "achievements/", "behaviour/", "school/"]


def test_pages_take_at_most_ten_queries_whatever_the_number_of_records(committed_db: None) -> None:
    school = f.family_school("Query Primary")
    switches = ["show_photo", "show_diary", "show_session_attendance", "show_lesson_attendance", "show_achievements"]
    with tenant_scope([school.id]):
        PortalSettings.objects.create(school=school, show_behaviour=True, **dict.fromkeys(switches, True))
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")

    def counts() -> dict[str, int]:
        result = {}
        for page in ["/portal/", "/portal/account/", *(f"/portal/children/{sam}/{p}" for p in PAGES)]:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(page).status_code == 200, page
            result[page] = len(queries.captured_queries)
        return result

    small = counts()
    day = f.LAST_WEEK
    f.send(
        school,
        {
            "behaviours": [
                {
                    "source_id": f"BX{i}",
                    "learner_source_id": "L1",
                    "behaviour_type": "Praise",
                    "event_date": day.isoformat(),
                }
                for i in range(60)
            ],
            "achievements": [
                {
                    "source_id": f"AX{i}",
                    "learner_source_id": "L1",
                    "achievement_type": "Merit",
                    "event_date": day.isoformat(),
                }
                for i in range(60)
            ],
            "homework": [
                {
                    "source_id": f"HX{i}",
                    "group_source_id": "G4",
                    "title": f"Task {i}",
                    "set_date": day.isoformat(),
                    "due_date": f.TODAY.isoformat(),
                }
                for i in range(30)
            ],
            "session-attendance": [
                f.b.mark("L1", (day - dt.timedelta(days=i)).isoformat(), s) for i in range(1, 40) for s in ("AM", "PM")
            ],
        },
    )
    large = counts()
    assert max(large.values()) <= 10, large
    assert large == small, (small, large)
