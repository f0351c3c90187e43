"""Who should have an account, read from the school's MIS data in a few set-based queries.

A person is a learner or a member of staff as the planner needs them: names, year group,
registration group, role, admission year, the day they left (if they have) and whether their
processing is restricted. Reading is done per record type in one query each (no query per person),
inside the school's tenant scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import Max, Q

from steward.mis.models import (
    GroupEnrolment,
    Learner,
    ProcessingRestriction,
    SchoolEnrolment,
    SchoolGroup,
    Staff,
    StaffAssignment,
    StaffContract,
)

PersonType = Literal["staff", "learners"]


@dataclass(frozen=True)
class Person:
    person_type: PersonType
    source_id: str
    forename: str
    surname: str
    email: str = ""
    year: str = ""
    registration: str = ""
    role: str = ""
    admission_year: int | None = None
    left_on: dt.date | None = None
    restricted: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.person_type, self.source_id)

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}".strip()

    def has_left(self, today: dt.date) -> bool:
        """Left on or before today: the account is disabled on the leaving date itself."""
        return self.left_on is not None and self.left_on <= today


def _restricted(school_id: int, record_type: str) -> set[str]:
    return set(
        ProcessingRestriction.objects.filter(school_id=school_id, record_type=record_type).values_list(
            "source_id", flat=True
        )
    )


def staff(*, school_id: int, today: dt.date) -> list[Person]:
    """Every member of staff, with their current role and, when every contract has ended, the day
    the last one ended (a member of staff with no contract on record has not left)."""
    roles: dict[str, str] = {}
    current = StaffAssignment.objects.filter(school_id=school_id, start_date__lte=today).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)
    )
    for sid, role in current.order_by("staff_source_id", "-start_date", "id").values_list("staff_source_id", "role"):
        roles.setdefault(sid, role)
    contracts = (
        StaffContract.objects.filter(school_id=school_id)
        .values("staff_source_id")
        .annotate(last_end=Max("end_date"), open=Max("start_date", filter=Q(end_date__isnull=True)))
    )
    left: dict[str, dt.date] = {
        c["staff_source_id"]: c["last_end"] for c in contracts if c["open"] is None and c["last_end"] is not None
    }
    restricted = _restricted(school_id, "staff")
    return [
        Person(
            person_type="staff",
            source_id=sid,
            forename=preferred or forename,
            surname=surname,
            email=email,
            role=roles.get(sid, ""),
            left_on=left.get(sid),
            restricted=sid in restricted,
        )
        for sid, forename, preferred, surname, email in Staff.objects.filter(school_id=school_id)
        .order_by("surname", "forename", "source_id")
        .values_list("source_id", "forename", "preferred_forename", "surname", "email")
    ]


def learners(*, school_id: int, today: dt.date) -> list[Person]:
    """Every learner with their latest enrolment (year group, admission year, leaving date) and
    current registration group. A learner with no enrolment on record is not on roll: no account."""
    enrolment: dict[str, tuple[str, dt.date, dt.date | None]] = {}
    rows = SchoolEnrolment.objects.filter(school_id=school_id).order_by("learner_source_id", "-entry_date", "-id")
    for sid, year, entry, leaving in rows.values_list("learner_source_id", "year_group", "entry_date", "leaving_date"):
        enrolment.setdefault(sid, (year, entry, leaving))
    registration_groups = dict(
        SchoolGroup.objects.filter(school_id=school_id, group_type="registration").values_list("source_id", "name")
    )
    registration: dict[str, str] = {}
    current = (
        GroupEnrolment.objects.filter(school_id=school_id, group_source_id__in=list(registration_groups))
        .filter(Q(start_date__isnull=True) | Q(start_date__lte=today))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .order_by("learner_source_id", "-start_date", "id")
    )
    for sid, group in current.values_list("learner_source_id", "group_source_id"):
        registration.setdefault(sid, registration_groups[group])
    restricted = _restricted(school_id, "learners")
    people = []
    for sid, forename, preferred, surname, preferred_surname, email in (
        Learner.objects.filter(school_id=school_id)
        .order_by("legal_surname", "legal_forename", "source_id")
        .values_list("source_id", "legal_forename", "preferred_forename", "legal_surname", "preferred_surname", "email")
    ):
        if sid not in enrolment:
            continue
        year, entry, leaving = enrolment[sid]
        people.append(
            Person(
                person_type="learners",
                source_id=sid,
                forename=preferred or forename,
                surname=preferred_surname or surname,
                email=email,
                year=year,
                registration=registration.get(sid, ""),
                admission_year=entry.year,
                left_on=leaving,
                restricted=sid in restricted,
            )
        )
    return people
