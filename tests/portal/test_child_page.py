"""A child's own page in the portal: this school year's attendance percentage and monthly chart, the
last school year a link away, initials where there is no photo, and each school's portal privacy
notice. The marks are fixed, and so is the day (Wednesday 18 March 2026): the school year is
2025 to 2026, the last one 2024 to 2025."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from steward.audit.models import AuditEvent
from steward.mis.models import Learner
from steward.portal.models import PortalSettings
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.portal import families as f

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 3, 18, 12, tzinfo=ZoneInfo("Europe/London"))


def _marks() -> list[dict[str, object]]:
    """Sam's marks. This year: September 4 possible, 2 attended; October 3 possible (D and # and X
    are no possible session, J is an absence), 2 attended; March 2 possible (U is late after the
    register closed: absent), 1 attended. Last year: 3 possible, 2 attended."""
    late = {"minutes_late": 10}
    return [
        b.mark("L1", "2025-09-08", "AM", "/"),
        b.mark("L1", "2025-09-08", "PM", "\\"),
        b.mark("L1", "2025-09-09", "AM", "I"),
        b.mark("L1", "2025-09-09", "PM", "I"),
        b.mark("L1", "2025-10-06", "AM", "L") | late,
        b.mark("L1", "2025-10-06", "PM", "V"),
        b.mark("L1", "2025-10-07", "AM", "D"),
        b.mark("L1", "2025-10-07", "PM", "J"),
        b.mark("L1", "2025-10-08", "AM", "#"),
        b.mark("L1", "2025-10-08", "PM", "X"),
        b.mark("L1", "2026-03-02", "AM", "/"),
        b.mark("L1", "2026-03-02", "PM", "U") | {"minutes_late": 40},
        b.mark("L1", "2024-09-03", "AM", "/"),
        b.mark("L1", "2024-09-03", "PM", "N"),
        b.mark("L1", "2025-08-29", "AM", "/"),
    ]


@pytest.fixture
def today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def school(today: None) -> Organisation:
    """Alex (C1) is the parent of Sam (L1, marks above) and Pip (L2, no mark yet)."""
    school = factories.school("Rowan Primary")
    enrolment = {"entry_date": "2022-09-01", "enrolment_status": "C", "year_group": "4"}
    records = {
        "learners": [b.learner("L1", preferred_forename="Sam"), b.learner("L2", legal_forename="Pip")],
        "contacts": [b.contact("C1")],
        "learner-contacts": [b.link("LC1", "L1", "C1"), b.link("LC2", "L2", "C1")],
        "school-enrolments": [
            {"source_id": "E1", "learner_source_id": "L1", **enrolment},
            {"source_id": "E2", "learner_source_id": "L2", **enrolment},
        ],
        "session-attendance": _marks(),
    }
    f.send(school, records, mode="full")
    f.registered_parent(school, "C1")
    return school


def _switch(school: Organisation, **values: bool) -> None:
    with tenant_scope([school.id]):
        PortalSettings.objects.update_or_create(school=school, defaults=values)


@pytest.fixture
def client(school: Organisation) -> Client:
    signed_in = Client()
    f.portal_sign_in(signed_in, "alex@example.invalid")
    return signed_in


def _text(html: str) -> str:
    """The page's words, tags removed and spaces collapsed, as a reader meets them."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _rows(html: str) -> list[list[str]]:
    """The monthly table's rows, as the words of their cells."""
    table = html.split("Attendance by month", 2)[2].split("</table>")[0]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody", 1)[1], re.S)
    ]


def test_the_childs_page_shows_this_school_years_percentage_chart_and_table(
    school: Organisation, client: Client
) -> None:
    _switch(school, show_session_attendance=True)
    sam = f.learner_id(school, "L1")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/portal/children/{sam}/")

    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "55.6% attendance in 2025 to 2026" in text  # 5 of 9: 55.55… rounded to one place
    assert "5 of 9 possible sessions attended. Late 2 times, 50 minutes in all." in text
    assert '<svg role="img" aria-labelledby="attendance-chart-title attendance-chart-desc"' in html
    assert html.count('class="steward-chart__bar"') == 3  # a bar for each month with sessions
    assert _rows(html) == [
        ["September 2025", "4", "2", "50.0%"],
        ["October 2025", "3", "2", "66.7%"],
        ["November 2025", "0", "0", "No sessions"],
        ["December 2025", "0", "0", "No sessions"],
        ["January 2026", "0", "0", "No sessions"],
        ["February 2026", "0", "0", "No sessions"],
        ["March 2026", "2", "1", "50.0%"],
    ]
    assert f'href="/portal/children/{sam}/attendance/?year=2024">Last school year (2024 to 2025)' in html
    # one aggregate query reads the marks (the page's total is held by test_queries.py)
    reads = [q["sql"] for q in queries.captured_queries if "mis_sessionattendance" in q["sql"]]
    assert len(reads) == 1 and "GROUPING SETS" in reads[0]


def test_last_school_year_is_a_link_away(school: Organisation, client: Client) -> None:
    _switch(school, show_session_attendance=True)
    sam = f.learner_id(school, "L1")

    with CaptureQueriesContext(connection) as queries:
        html = client.get(f"/portal/children/{sam}/attendance/?year=2024").content.decode()

    reads = [q["sql"] for q in queries.captured_queries if "mis_sessionattendance" in q["sql"]]
    assert len(reads) == 1  # the figures and the marks by week come from one statement
    text = _text(html)
    assert "Last school year: 2024 to 2025" in text
    assert "25 Aug / 0" in text and "2 Sep / N 0" in text  # marks by week, newest first
    assert "66.7% attendance in 2024 to 2025" in text
    assert "2 of 3 possible sessions attended." in text
    rows = _rows(html)
    assert rows[0] == ["September 2024", "2", "1", "50.0%"]
    assert rows[-1] == ["August 2025", "1", "1", "100.0%"]
    assert len(rows) == 12
    assert f'href="/portal/children/{sam}/attendance/?year=2024" aria-current="page"' in html
    with tenant_scope([school.id]):
        event = AuditEvent.objects.filter(action="portal_view").latest("id")
    assert event.detail == {"item": "attendance", "school_year": 2024}


def test_a_year_the_portal_does_not_show_is_refused_clearly_and_nothing_is_read(
    school: Organisation, client: Client
) -> None:
    _switch(school, show_session_attendance=True)
    sam = f.learner_id(school, "L1")
    with tenant_scope([school.id]):
        before = AuditEvent.objects.count()
    for year in ("2019", "2026", "last", "2024-25"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/portal/children/{sam}/attendance/", {"year": year})
        assert response.status_code == 400, year
        text = _text(response.content.decode())
        assert f"There is no attendance to show for a school year starting in '{year}'." in text
        assert "this school year (2025 to 2026, year=2025) and the last one (2024 to 2025, year=2024)" in text
        assert not [q for q in queries.captured_queries if "mis_sessionattendance" in q["sql"]]
    with tenant_scope([school.id]):
        assert AuditEvent.objects.count() == before


def test_a_child_with_no_marks_yet(school: Organisation, client: Client) -> None:
    _switch(school, show_session_attendance=True)
    pip = f.learner_id(school, "L2")

    page = _text(client.get(f"/portal/children/{pip}/").content.decode())
    assert "No attendance recorded yet this school year (2025 to 2026)." in page
    assert "%" not in page.split("Attendance this school year", 1)[1].split("Details", 1)[0]

    last = _text(client.get(f"/portal/children/{pip}/attendance/?year=2024").content.decode())
    assert "No attendance recorded in 2024 to 2025." in last


def test_attendance_switched_off_shows_no_percentage_or_chart_and_reads_no_mark(
    school: Organisation, client: Client
) -> None:
    _switch(school, show_session_attendance=False, show_diary=True)
    sam = f.learner_id(school, "L1")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/portal/children/{sam}/")

    html = response.content.decode()
    assert response.status_code == 200 and '<h1 class="govuk-heading-l">Sam Jones</h1>' in html
    assert "Attendance this school year" not in html
    assert "<svg" not in html and "55.6" not in html and "possible sessions" not in html
    assert "/attendance/" not in html  # not in the menu either
    assert not [q for q in queries.captured_queries if "mis_sessionattendance" in q["sql"]]
    for url in (f"/portal/children/{sam}/attendance/", f"/portal/children/{sam}/attendance/?year=2024"):
        assert client.get(url).status_code == 404


def test_no_broken_image_where_there_is_no_photo(school: Organisation, client: Client) -> None:
    _switch(school, show_photo=True)
    sam = f.learner_id(school, "L1")

    html = client.get(f"/portal/children/{sam}/").content.decode()
    assert "<img" not in html
    assert '<span class="steward-initials" aria-hidden="true">SJ</span>' in html

    with tenant_scope([school.id]):
        Learner.objects.filter(pk=sam).update(photo=b"\xff\xd8\xff\xe0 a jpeg")
    html = client.get(f"/portal/children/{sam}/").content.decode()
    assert f'<img class="steward-photo" src="/portal/children/{sam}/photo.jpg"' in html
    assert client.get(f"/portal/children/{sam}/photo.jpg").status_code == 200

    _switch(school, show_photo=False)  # a photo the school does not show is not linked either
    html = client.get(f"/portal/children/{sam}/").content.decode()
    assert "<img" not in html and "steward-initials" in html


def test_every_school_of_the_parent_links_its_portal_privacy_notice(school: Organisation, client: Client) -> None:
    other = factories.school("Hazel Academy")
    enrolment = {"source_id": "E1", "learner_source_id": "K1", "entry_date": "2022-09-01", "enrolment_status": "C"}
    records = {
        "learners": [b.learner("K1", legal_forename="Kit")],
        "contacts": [b.contact("P1")],
        "learner-contacts": [b.link("PL1", "K1", "P1")],
        "school-enrolments": [enrolment],
    }
    f.send(other, records, mode="full")
    token = f.invite(other, "P1")
    response = client.post(
        f"/portal/invitation/{token}/", {"email": "alex@example.invalid", "password": f.PARENT_PASSWORD}
    )
    assert response.status_code == 302
    # Kit has left since: the school shows no child, but the parent's account is still linked to it
    f.send(other, {"school-enrolments": [enrolment | {"leaving_date": "2026-01-01"}]})

    home = client.get("/portal/").content.decode()

    assert "Kit" not in home
    for found in (school, other):
        link = f'href="/privacy/{found.urn}/parent_portal/">How {found.name} uses your information on the parent portal'
        assert link in home
        notice = Client().get(f"/privacy/{found.urn}/parent_portal/")
        assert notice.status_code == 200 and found.name in notice.content.decode()
    sam = f.learner_id(school, "L1")
    child = client.get(f"/portal/children/{sam}/").content.decode()
    assert f'href="/privacy/{school.urn}/parent_portal/">How Rowan Primary uses your information' in child
