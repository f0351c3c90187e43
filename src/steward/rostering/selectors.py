"""The MIS model as a OneRoster 1.2 roster, as one recipient may see it.

A recipient sees a school only while an approved flow of the `rostering` activity names it, and
of each record type only the fields those flows release (`sharing.selectors.release_for`):
a field that is not released is absent, never null. Restricted subjects (Art. 18) are left out in
the same statement that reads the rows. Every sourcedId is the recipient's own
(`rostering.ids.subject_id`), never the MIS source id.

Mapping (the why is in DESIGN.md, "OneRoster 1.2"):
- school -> org of type `school` (the register's school, not MIS data);
- the school year of today and its three terms -> academicSessions (`rostering.sessions`);
- groups of type class, teaching or registration -> classes (`homeroom` for registration groups),
  each with a course: one per subject where the group has one, else one for the group itself;
- learners -> users with role student, grades from their school enrolment's year group;
- staff with a current teaching assignment (a role naming "teacher", or SENCo) -> users with role
  teacher; the MIS model has no staff-to-group link, so there are no teacher enrollments;
- group enrolments -> enrollments with role student;
- learners' date of birth and gender -> demographics (birthDate, sex); ethnicity and other special
  categories never;
- MIS tombstones (kept as long as the register keeps them) -> the record with status `tobedeleted`.

Each kind is read with one statement for all the recipient's schools (no query per row); the
kinds a request needs are read lazily, once per roster, and `rostering.cache` keeps a roster for
the recipient's next pages while nothing it shows has changed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from steward.mis.models import (
    GroupEnrolment,
    Learner,
    ProcessingRestriction,
    SchoolEnrolment,
    SchoolGroup,
    Staff,
    StaffAssignment,
    Tombstone,
)
from steward.rostering.ids import subject_id
from steward.rostering.sessions import sessions_for
from steward.sharing.models import DataFlow
from steward.sharing.selectors import Release, release_for, releasing
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope

SERVICE = "rostering"
CLASS_GROUP_TYPES = ("class", "teaching", "registration")
SEX = {"M": "male", "F": "female", "U": "unspecified"}


@dataclass(frozen=True)
class SchoolAccess:
    """One school whose approved rostering flows name the recipient, and what they release."""

    school: Organisation
    releases: dict[str, Release]

    def fields(self, record_type: str) -> frozenset[str]:
        release = self.releases.get(record_type)
        return frozenset(release.fields) if release else frozenset()


def access_for(recipient_code: str) -> list[SchoolAccess]:
    """The schools releasing rostering data to this recipient now (read across the estate, as the
    recipient API's list of schools is: a recipient is not a tenant)."""
    with estate_scope():
        flows = list(
            DataFlow.objects.filter(
                recipient__code=recipient_code, activity__service=SERVICE, status=DataFlow.Status.APPROVED
            )
            .select_related("recipient", "school")
            .order_by("school_id", "id")
        )
    by_school: dict[int, list[DataFlow]] = {}
    for flow in flows:
        by_school.setdefault(flow.school_id, []).append(flow)
    result = [a for school_flows in by_school.values() if (a := school_access(school_flows)) is not None]
    return sorted(result, key=lambda a: a.school.name)


def school_access(flows: list[DataFlow]) -> SchoolAccess | None:
    """What these approved rostering flows of one school release together, leaving out a flow that
    is not releasing now (a transfer without its safeguard); None if none is."""
    live = [flow for flow in flows if releasing(flow)]
    if not live:
        return None
    types = {f.split(".", 1)[0] for flow in live for f in flow.fields}
    releases = {t: r for t in sorted(types) if (r := release_for(live, t)) is not None}
    return SchoolAccess(live[0].school, releases)


def school_access_for(school: Organisation, recipient_code: str) -> SchoolAccess | None:
    """One school's approved rostering flows to the recipient, as `access_for` reads them for every
    school; call inside that school's tenant scope (a CSV export names one school)."""
    flows = list(
        DataFlow.objects.filter(
            school=school, recipient__code=recipient_code, activity__service=SERVICE, status=DataFlow.Status.APPROVED
        )
        .select_related("recipient", "school")
        .order_by("id")
    )
    return school_access(flows)


@dataclass
class Item:
    """One OneRoster record, with what the disclosure log needs about where it came from."""

    data: dict[str, Any]
    school_id: int | None = None
    record_type: str | None = None  # the MIS record type it discloses; None for non-personal records
    source_id: str = ""
    subjects: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)  # e.g. {"class": class sourcedId} for nesting


def timestamp(value: dt.datetime | dt.date) -> str:
    """OneRoster's dateLastModified: UTC with milliseconds and a Z."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def grade(year_group: str) -> str:
    """An English year group as a OneRoster grade: nursery PK, reception KG, Year n as two digits
    (the English year number, kept so a school recognises it, not the US grade of that age)."""
    code = year_group.strip().upper()
    if code.startswith("N"):
        return "PK"
    if code == "R":
        return "KG"
    return f"{int(code):02d}" if code.isdigit() else code


def _restricted(record_type: str, field_name: str = "source_id") -> Exists:
    """Whether the row's subject (named by `field_name`) is restricted: for `.exclude()`."""
    return Exists(
        ProcessingRestriction.objects.filter(
            school_id=OuterRef("school_id"), record_type=record_type, source_id=OuterRef(field_name)
        )
    )


class Roster:
    """What one recipient may read, mapped lazily; call inside `tenant_scope` of its schools."""

    def __init__(self, *, recipient_code: str, access: list[SchoolAccess], base_url: str, today: dt.date) -> None:
        self.recipient = recipient_code
        self.access = {a.school.id: a for a in access}
        self.base_url = base_url.rstrip("/")
        self.today = today
        # Filtered, sorted answers kept with the roster while it is reused (`rostering.cache`).
        self.answers: dict[Hashable, list[Item]] = {}
        self.answers_lock = threading.Lock()

    # --- ids and references

    def sid(self, school_id: int | None, kind: str, source_id: str) -> str:
        urn = (self.access[school_id].school.urn or 0) if school_id is not None else 0
        return subject_id(recipient_code=self.recipient, school_urn=urn, kind=kind, source_id=source_id)

    def ref(self, path: str, sourced_id: str, kind: str) -> dict[str, str]:
        return {"href": f"{self.base_url}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}

    def kinds_released(self, school_id: int) -> frozenset[str]:
        """The OneRoster collections the school's flows give this recipient anything of (orgs and
        academic sessions always: they are the school and its year, not MIS personal data)."""
        kinds = {"orgs", "academicSessions"}
        if school_id in self._group_schools:
            kinds |= {"courses", "classes"}
        if school_id in self._student_schools or school_id in self._teacher_schools:
            kinds.add("users")
        if "classes" in kinds and school_id in self._student_schools and school_id in self._enrollment_schools:
            kinds.add("enrollments")  # a membership is shown only with both of its sides
        if school_id in self._student_schools and {"date_of_birth", "gender"} & self.access[school_id].fields(
            "learners"
        ):
            kinds.add("demographics")
        return frozenset(kinds)

    def _schools_releasing(self, *record_types: str) -> list[int]:
        return [i for i, a in self.access.items() if all(a.releases.get(t) for t in record_types)]

    def _tombstones(self, record_type: str, school_ids: Iterable[int], live: QuerySet[Any]) -> list[Tombstone]:
        """Deletions still kept, of records not since re-created under the same id."""
        exists = live.filter(school_id=OuterRef("school_id"), source_id=OuterRef("source_id"))
        return list(
            Tombstone.objects.filter(school_id__in=list(school_ids), record_type=record_type)
            .exclude(Exists(exists))
            .order_by("change_version")
        )

    def _deleted(self, stone: Tombstone, kind: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "sourcedId": self.sid(stone.school_id, kind, stone.source_id),
            "status": "tobedeleted",
            "dateLastModified": timestamp(stone.deleted_at),
            **(extra or {}),
        }

    # --- orgs and sessions (no personal data, not from the MIS feed)

    @cached_property
    def orgs(self) -> list[Item]:
        items = []
        for school_id, access in self.access.items():
            school = access.school
            data = {
                "sourcedId": self.org_id(school_id),
                "status": "active",
                "dateLastModified": timestamp(school.created_at),
                "name": school.name,
                "type": "school",
                "identifier": str(school.urn),
            }
            items.append(Item(data, school_id))
        return items

    def org_id(self, school_id: int) -> str:
        return self.sid(school_id, "org", str(self.access[school_id].school.urn))

    def org_ref(self, school_id: int) -> dict[str, str]:
        return self.ref("orgs", self.org_id(school_id), "org")

    @cached_property
    def session_ids(self) -> dict[str, str]:
        return {s.key: self.sid(None, "academicSession", s.key) for s in sessions_for(self.today)}

    @cached_property
    def sessions(self) -> list[Item]:
        items = []
        all_sessions = sessions_for(self.today)
        for session in all_sessions:
            data: dict[str, Any] = {
                "sourcedId": self.session_ids[session.key],
                "status": "active",
                "dateLastModified": timestamp(all_sessions[0].start),
                "title": session.title,
                "type": session.type,
                "startDate": session.start.isoformat(),
                "endDate": session.end.isoformat(),
                "schoolYear": str(session.school_year),
            }
            if session.parent:
                data["parent"] = self.ref("academicSessions", self.session_ids[session.parent], "academicSession")
            else:
                data["children"] = [
                    self.ref("academicSessions", self.session_ids[s.key], "academicSession")
                    for s in all_sessions
                    if s.parent == session.key
                ]
            items.append(Item(data))
        return items

    def _year_ref(self) -> dict[str, str]:
        year = sessions_for(self.today)[0]
        return self.ref("academicSessions", self.session_ids[year.key], "academicSession")

    def _term_refs(self) -> list[dict[str, str]]:
        return [
            self.ref("academicSessions", self.session_ids[s.key], "academicSession")
            for s in sessions_for(self.today)
            if s.type == "term"
        ]

    # --- classes and courses

    @cached_property
    def _group_schools(self) -> list[int]:
        return [i for i in self._schools_releasing("groups") if "name" in self.access[i].fields("groups")]

    @cached_property
    def _groups(self) -> list[dict[str, Any]]:
        schools = self._group_schools
        wanted = {"name", "code", "subject"} & set().union(*(self.access[i].fields("groups") for i in schools))
        rows = SchoolGroup.objects.filter(school_id__in=schools, group_type__in=CLASS_GROUP_TYPES)
        return list(rows.values("school_id", "source_id", "group_type", "updated_at", *sorted(wanted)))

    def _course_key(self, row: dict[str, Any]) -> tuple[str, str]:
        """(course key, title): the group's subject where it has one (and it is released), else the group."""
        subject = row.get("subject") if "subject" in self.access[row["school_id"]].fields("groups") else ""
        return (f"subject:{subject}", subject) if subject else (f"group:{row['source_id']}", row["name"])

    @cached_property
    def courses(self) -> list[Item]:
        found: dict[tuple[int, str], Item] = {}
        for row in self._groups:
            key, title = self._course_key(row)
            modified = timestamp(row["updated_at"])
            item = found.get((row["school_id"], key))
            if item is None:
                data = {
                    "sourcedId": self.sid(row["school_id"], "course", key),
                    "status": "active",
                    "dateLastModified": modified,
                    "title": title,
                    "schoolYear": self._year_ref(),
                    "org": self.org_ref(row["school_id"]),
                }
                if key.startswith("subject:"):
                    data["subjects"] = [title]
                found[(row["school_id"], key)] = Item(data, row["school_id"], "groups", row["source_id"])
            elif modified > item.data["dateLastModified"]:
                item.data["dateLastModified"] = modified
        return list(found.values())

    @cached_property
    def classes(self) -> list[Item]:
        items = []
        for row in self._groups:
            school_id = row["school_id"]
            released = self.access[school_id].fields("groups")
            key, _ = self._course_key(row)
            data: dict[str, Any] = {
                "sourcedId": self.class_id(school_id, row["source_id"]),
                "status": "active",
                "dateLastModified": timestamp(row["updated_at"]),
                "title": row["name"],
                "classType": "homeroom" if row["group_type"] == "registration" else "scheduled",
                "course": self.ref("courses", self.sid(school_id, "course", key), "course"),
                "school": self.org_ref(school_id),
                "terms": self._term_refs(),
            }
            if "code" in released and row.get("code"):
                data["classCode"] = row["code"]
            if "subject" in released and row.get("subject"):
                data["subjects"] = [row["subject"]]
            items.append(Item(data, school_id, "groups", row["source_id"]))
        for stone in self._tombstones("groups", self._group_schools, SchoolGroup.objects.all()):
            data = self._deleted(stone, "class", {"school": self.org_ref(stone.school_id)})
            items.append(Item(data, stone.school_id, "groups", stone.source_id))
        return items

    def class_id(self, school_id: int, source_id: str) -> str:
        return self.sid(school_id, "class", source_id)

    # --- users

    def _name_fields(
        self, released: frozenset[str], row: dict[str, Any], forename: str, surname: str
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        preferred = row.get("preferred_forename") if "preferred_forename" in released else ""
        data["givenName"] = preferred or row.get(forename, "")
        preferred_surname = row.get("preferred_surname") if "preferred_surname" in released else ""
        data["familyName"] = preferred_surname or row.get(surname, "")
        if preferred:
            data["preferredFirstName"] = preferred
        if preferred_surname:
            data["preferredLastName"] = preferred_surname
        if "middle_names" in released and row.get("middle_names"):
            data["middleName"] = row["middle_names"]
        if "email" in released and row.get("email"):
            data["email"] = row["email"]
        return data

    def _user(self, school_id: int, kind: str, row: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
        org = self.org_ref(school_id)
        return {
            "sourcedId": self.sid(school_id, kind, row["source_id"]),
            "status": "active",
            "dateLastModified": timestamp(row["updated_at"]),
            "enabledUser": True,
            **names,
            "roles": [{"roleType": "primary", "role": kind, "org": org}],
            "primaryOrg": org,
        }

    @cached_property
    def _student_schools(self) -> list[int]:
        return [
            i
            for i in self._schools_releasing("learners")
            if {"legal_forename", "legal_surname"} <= self.access[i].fields("learners")
            or {"preferred_forename", "preferred_surname"} <= self.access[i].fields("learners")
        ]

    @cached_property
    def _learner_rows(self) -> list[dict[str, Any]]:
        name_columns = {
            "legal_forename",
            "legal_surname",
            "preferred_forename",
            "preferred_surname",
            "middle_names",
            "email",
            "date_of_birth",
            "gender",
        }
        wanted = name_columns & set().union(*(self.access[i].fields("learners") for i in self._student_schools))
        rows = Learner.objects.filter(school_id__in=self._student_schools).exclude(_restricted("learners"))
        return list(rows.values("school_id", "source_id", "updated_at", *sorted(wanted)))

    @cached_property
    def _year_groups(self) -> dict[tuple[int, str], str]:
        """Each learner's current year group, where the flow releases it (one statement)."""
        schools = [i for i in self._student_schools if "year_group" in self.access[i].fields("school-enrolments")]
        current = Q(leaving_date__isnull=True) | Q(leaving_date__gte=self.today)
        rows = (
            SchoolEnrolment.objects.filter(school_id__in=schools)
            .filter(current)
            .exclude(year_group="")
            .order_by("school_id", "learner_source_id", "-entry_date")
            .values_list("school_id", "learner_source_id", "year_group")
        )
        result: dict[tuple[int, str], str] = {}
        for school_id, learner, year in rows:
            result.setdefault((school_id, learner), year)
        return result

    @cached_property
    def students(self) -> list[Item]:
        items = []
        for row in self._learner_rows:
            school_id = row["school_id"]
            released = self.access[school_id].fields("learners")
            names = self._name_fields(released, row, "legal_forename", "legal_surname")
            data = self._user(school_id, "student", row, names)
            year = self._year_groups.get((school_id, row["source_id"]))
            if year:
                data["grades"] = [grade(year)]
            items.append(Item(data, school_id, "learners", row["source_id"], (row["source_id"],)))
        for stone in self._tombstones("learners", self._student_schools, Learner.objects.all()):
            role = [{"roleType": "primary", "role": "student", "org": self.org_ref(stone.school_id)}]
            data = self._deleted(stone, "student", {"roles": role})
            items.append(Item(data, stone.school_id, "learners", stone.source_id, (stone.source_id,)))
        return items

    @cached_property
    def _teacher_schools(self) -> list[int]:
        return [
            i
            for i in self._schools_releasing("staff", "staff-assignments")
            if {"forename", "surname"} <= self.access[i].fields("staff")
            and "role" in self.access[i].fields("staff-assignments")
        ]

    @cached_property
    def teachers(self) -> list[Item]:
        teaching = StaffAssignment.objects.filter(
            school_id=OuterRef("school_id"), staff_source_id=OuterRef("source_id")
        ).filter(
            (Q(role__icontains="teacher") | Q(role__iexact="senco"))
            & (Q(end_date__isnull=True) | Q(end_date__gte=self.today))
            & Q(start_date__lte=self.today)
        )
        wanted = {"forename", "surname", "preferred_forename", "email", "date_of_birth", "gender"} & set().union(
            *(self.access[i].fields("staff") for i in self._teacher_schools)
        )
        rows = (
            Staff.objects.filter(school_id__in=self._teacher_schools)
            .filter(Exists(teaching))
            .exclude(_restricted("staff"))
            .values("school_id", "source_id", "updated_at", *sorted(wanted))
        )
        items = []
        for row in rows:
            school_id = row["school_id"]
            names = self._name_fields(self.access[school_id].fields("staff"), row, "forename", "surname")
            data = self._user(school_id, "teacher", row, names)
            items.append(Item(data, school_id, "staff", row["source_id"], (row["source_id"],)))
        for stone in self._tombstones("staff", self._teacher_schools, Staff.objects.all()):
            role = [{"roleType": "primary", "role": "teacher", "org": self.org_ref(stone.school_id)}]
            data = self._deleted(stone, "teacher", {"roles": role})
            items.append(Item(data, stone.school_id, "staff", stone.source_id, (stone.source_id,)))
        return items

    @cached_property
    def users(self) -> list[Item]:
        return [*self.students, *self.teachers]

    # --- enrollments and demographics

    @cached_property
    def _enrollment_schools(self) -> list[int]:
        return [
            i
            for i in self._schools_releasing("group-enrolments")
            if {"group_source_id", "learner_source_id"} <= self.access[i].fields("group-enrolments")
        ]

    @cached_property
    def enrollments(self) -> list[Item]:
        """Learners' memberships of classes the recipient sees, both sides visible to it."""
        classes = {(r["school_id"], r["source_id"]) for r in self._groups}
        learners = {(r["school_id"], r["source_id"]) for r in self._learner_rows}
        schools = self._enrollment_schools
        rows = GroupEnrolment.objects.filter(school_id__in=schools).exclude(
            _restricted("learners", "learner_source_id")
        )
        items = []
        for row in rows.values(
            "school_id", "source_id", "group_source_id", "learner_source_id", "start_date", "end_date", "updated_at"
        ):
            school_id = row["school_id"]
            if (school_id, row["group_source_id"]) not in classes or (
                school_id,
                row["learner_source_id"],
            ) not in learners:
                continue
            released = self.access[school_id].fields("group-enrolments")
            class_id = self.class_id(school_id, row["group_source_id"])
            user_id = self.sid(school_id, "student", row["learner_source_id"])
            data: dict[str, Any] = {
                "sourcedId": self.sid(school_id, "enrollment", row["source_id"]),
                "status": "active",
                "dateLastModified": timestamp(row["updated_at"]),
                "role": "student",
                "user": self.ref("users", user_id, "user"),
                "class": self.ref("classes", class_id, "class"),
                "school": self.org_ref(school_id),
            }
            if "start_date" in released and row["start_date"]:
                data["beginDate"] = row["start_date"].isoformat()
            if "end_date" in released and row["end_date"]:
                data["endDate"] = row["end_date"].isoformat()
            links = {"class": class_id, "user": user_id}
            subjects = (row["learner_source_id"],)
            items.append(Item(data, school_id, "group-enrolments", row["source_id"], subjects, links))
        for stone in self._tombstones("group-enrolments", schools, GroupEnrolment.objects.all()):
            data = self._deleted(stone, "enrollment", {"school": self.org_ref(stone.school_id)})
            items.append(Item(data, stone.school_id, "group-enrolments", stone.source_id))
        return items

    @cached_property
    def demographics(self) -> list[Item]:
        """Students' birth date and sex, where the flow releases them; the sourcedId is the user's,
        as the specification pairs them. Nothing of a special category is ever mapped."""
        items = []
        for row in self._learner_rows:
            released = self.access[row["school_id"]].fields("learners")
            data: dict[str, Any] = {}
            if "date_of_birth" in released and row.get("date_of_birth"):
                data["birthDate"] = row["date_of_birth"].isoformat()
            if "gender" in released and row.get("gender"):
                data["sex"] = SEX.get(row["gender"], "unspecified")
            if not data:
                continue
            head = {
                "sourcedId": self.sid(row["school_id"], "student", row["source_id"]),
                "status": "active",
                "dateLastModified": timestamp(row["updated_at"]),
            }
            items.append(Item({**head, **data}, row["school_id"], "learners", row["source_id"], (row["source_id"],)))
        return items

    def demographics_released(self) -> bool:
        return any({"date_of_birth", "gender"} & self.access[i].fields("learners") for i in self._student_schools)
