"""Schools with families in them, sent through the real ingest path, and parents who accepted
their invitations through the real service."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.test import Client, TestCase
from django.utils import timezone

from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.portal.models import ParentAccount
from steward.portal.selectors import academic_year_start
from steward.portal.services import eligible_contacts, invitation_accept, invite_contacts
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

PARENT_PASSWORD = "a-long-parent-password-42"
TODAY = timezone.localdate()


def recent_school_day(today: dt.date) -> dt.date:
    """About a week before `today`, on a weekday of the school year `today` is in: the family's
    marks must fall on a day registers are taken (a CTF holds no weekend) and count towards this
    year's attendance, whatever day the tests run (`make test-dates`)."""
    day = max(today - dt.timedelta(days=7), academic_year_start(today))
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


LAST_WEEK = recent_school_day(TODAY)


def family_records(prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """Sam (L1) and Priya (L2) are on roll; Olu (L3) has left. Alex (C1) has parental responsibility
    for Sam and Olu, Raj (C2) for Priya; Kim (C3) is Sam's contact without it."""
    p = prefix
    day = LAST_WEEK.isoformat()
    return {
        "school-details": [
            {"source_id": "S", "name": f"{p}School", "head_teacher": "Ms Head", "phone": "01234 567890"}
        ],
        "learners": [
            b.learner("L1", legal_forename="Samuel", preferred_forename="Sam"),
            b.learner("L2", legal_forename="Priya", legal_surname="Shah"),
            b.learner("L3", legal_forename="Olu", legal_surname="Jones"),
        ],
        "contacts": [
            b.contact("C1", email=f"alex{p}@example.invalid"),
            b.contact("C2", forename="Raj", surname="Shah", email=f"raj{p}@example.invalid"),
            b.contact("C3", forename="Kim", surname="Lee", email=f"kim{p}@example.invalid"),
        ],
        "learner-contacts": [
            b.link("LC1", "L1", "C1"),
            b.link("LC2", "L2", "C2"),
            b.link("LC3", "L1", "C3", relationship="OTH", parental_responsibility=False),
            b.link("LC4", "L3", "C1"),
        ],
        "school-enrolments": [
            {
                "source_id": "E1",
                "learner_source_id": "L1",
                "entry_date": "2022-09-01",
                "enrolment_status": "C",
                "year_group": "4",
            },
            {
                "source_id": "E2",
                "learner_source_id": "L2",
                "entry_date": "2022-09-01",
                "enrolment_status": "C",
                "year_group": "5",
            },
            {
                "source_id": "E3",
                "learner_source_id": "L3",
                "entry_date": "2020-09-01",
                "leaving_date": (TODAY - dt.timedelta(days=30)).isoformat(),
                "enrolment_status": "C",
                "year_group": "6",
            },
        ],
        "groups": [
            {"source_id": "G4", "name": "4 Oak", "group_type": "registration"},
            {"source_id": "G5", "name": "5 Elm", "group_type": "registration"},
        ],
        "group-enrolments": [
            {"source_id": "GE1", "group_source_id": "G4", "learner_source_id": "L1"},
            {"source_id": "GE2", "group_source_id": "G5", "learner_source_id": "L2"},
        ],
        "homework": [
            {
                "source_id": "H1",
                "group_source_id": "G4",
                "title": "Spellings week 3",
                "set_date": day,
                "due_date": TODAY.isoformat(),
            },
            {
                "source_id": "H2",
                "group_source_id": "G5",
                "title": "Fractions sheet",
                "set_date": day,
                "due_date": TODAY.isoformat(),
            },
        ],
        "diary-events": [
            {
                "source_id": "D1",
                "description": "Harvest festival",
                "starts_at": f"{(TODAY + dt.timedelta(days=3)).isoformat()}T14:00:00Z",
            }
        ],
        "session-attendance": [
            b.mark("L1", day, "AM"),
            b.mark("L1", day, "PM", "L") | {"minutes_late": 12},
            b.mark("L2", day, "AM", "I"),
        ],
        "lesson-attendance": [
            {
                "source_id": "LA1",
                "learner_source_id": "L1",
                "group_source_id": "G4",
                "lesson_date": day,
                "start_time": "09:00",
                "end_time": "10:00",
                "mark": "/",
            }
        ],
        "behaviours": [
            {
                "source_id": "B1",
                "learner_source_id": "L1",
                "behaviour_type": "Disruption",
                "location": "Hall",
                "points": -2,
                "comments": "Private comment about Sam",
                "event_date": day,
            },
            {
                "source_id": "B2",
                "learner_source_id": "L2",
                "behaviour_type": "Lateness",
                "points": -1,
                "comments": "Priya's note",
                "event_date": day,
            },
        ],
        "achievements": [
            {
                "source_id": "A1",
                "learner_source_id": "L1",
                "achievement_type": "Star of the week",
                "points": 5,
                "comments": "Kind to others",
                "event_date": day,
            }
        ],
    }


def family_school(name: str, prefix: str = "") -> Organisation:
    school = factories.school(name)
    send(school, family_records(prefix), mode="full")
    return school


def send(school: Organisation, records: dict[str, list[dict[str, Any]]], *, mode: str = "delta") -> None:
    batch_ingest(school=school, stream=io.BytesIO(b.json_batch(records)), format="json", mode=mode, sent_by="test")


def invite(school: Organisation, contact_source_id: str) -> str:
    """Invite one contact; return the link's token, read from the email the contact received."""
    with TestCase.captureOnCommitCallbacks(execute=True), tenant_scope([school.id]):
        contacts = eligible_contacts(school.id).filter(source_id=contact_source_id)
        report = invite_contacts(school=school, contacts=contacts, invited_by=None, base_url="http://testserver")
    assert report.sent, f"{contact_source_id} could not be invited"
    return report.tokens[contact_source_id]


def registered_parent(school: Organisation, contact_source_id: str, name: str = "Alex Jones") -> ParentAccount:
    return invitation_accept(token=invite(school, contact_source_id), full_name=name, password=PARENT_PASSWORD)


def portal_sign_in(client: Client, email: str, password: str = PARENT_PASSWORD) -> None:
    response = client.post("/portal/sign-in/", {"email": email, "password": password})
    assert response.status_code == 302, response.content[:400]


def learner_id(school: Organisation, source_id: str) -> int:
    with tenant_scope([school.id]):
        return int(Learner.objects.get(source_id=source_id).pk)
