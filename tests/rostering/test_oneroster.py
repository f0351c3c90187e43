"""OneRoster 1.2 over real HTTP with real tokens: shapes against the specification's schemas, the
query syntax, per-recipient ids, and only what the school approved, each page in the disclosure log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from steward.audit.actor import Actor
from steward.mis.models import Learner, Tombstone
from steward.mis.privacy import MisPrivacyProvider
from steward.register.providers import Subject
from steward.rostering import cache
from steward.rostering.ids import subject_id
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow, Disclosure
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.provisioning.conftest import records, send
from tests.rostering.conftest import BASE, approve, bearer_for, get, make_school, pupil, school_records, validate

pytestmark = pytest.mark.django_db

COLLECTIONS = [
    ("orgs", "org", 1),
    ("schools", "org", 1),
    ("academicSessions", "academicSession", 4),
    ("terms", "academicSession", 3),
    ("gradingPeriods", "academicSession", 0),
    ("courses", "course", 2),  # Maths (two sets share it) and the registration group's own course
    ("classes", "class", 3),  # the house is not a class
    ("users", "user", 4),
    ("students", "user", 3),
    ("teachers", "user", 1),  # the teaching assistant is not a teacher
    ("enrollments", "enrollment", 4),
]


def ids(body: dict[str, Any], key: str) -> list[str]:
    return [r["sourcedId"] for r in body[key]]


@pytest.mark.parametrize(("path", "kind", "count"), COLLECTIONS)
def test_each_collection_answers_in_the_specifications_shape(
    client: Client, bearer: str, approved: DataFlow, path: str, kind: str, count: int
) -> None:
    response = get(client, bearer, path)
    assert response.status_code == 200, response.content
    body = response.json()
    validate(kind, body)
    key = {"org": "orgs", "academicSession": "academicSessions", "user": "users"}.get(kind, path)
    assert len(body[key]) == count
    assert response["X-Total-Count"] == str(count)


def test_single_records_and_nested_collections(client: Client, bearer: str, approved: DataFlow) -> None:
    classes = {c["title"]: c for c in get(client, bearer, "classes").json()["classes"]}
    students = {s["givenName"]: s for s in get(client, bearer, "students").json()["users"]}
    org = get(client, bearer, "schools").json()["orgs"][0]["sourcedId"]
    teacher = get(client, bearer, "teachers").json()["users"][0]["sourcedId"]
    enrollment = get(client, bearer, "enrollments").json()["enrollments"][0]["sourcedId"]
    maths = classes["7 Maths set 1"]["sourcedId"]
    amy = students["Ames"]["sourcedId"]
    singles = [
        (f"orgs/{org}", "org"),
        (f"schools/{org}", "org"),
        (f"classes/{maths}", "class"),
        (f"users/{amy}", "user"),
        (f"students/{amy}", "user"),
        (f"teachers/{teacher}", "user"),
        (f"enrollments/{enrollment}", "enrollment"),
        (f"courses/{classes['7A']['course']['sourcedId']}", "course"),
    ]
    for path, kind in singles:
        response = get(client, bearer, path)
        assert response.status_code == 200, (path, response.content)
        validate(kind, response.json())
        assert list(response.json()) == [kind]
    nested = {
        f"schools/{org}/classes": ("classes", 3),
        f"schools/{org}/students": ("users", 3),
        f"schools/{org}/teachers": ("users", 1),
        f"schools/{org}/enrollments": ("enrollments", 4),
        f"classes/{maths}/students": ("users", 1),
        f"classes/{classes['7A']['sourcedId']}/students": ("users", 2),
        f"classes/{maths}/teachers": ("users", 0),  # the MIS links no staff to groups
        f"students/{amy}/classes": ("classes", 2),
        f"teachers/{teacher}/classes": ("classes", 0),
    }
    for path, (key, count) in nested.items():
        response = get(client, bearer, path)
        assert response.status_code == 200, (path, response.content)
        assert len(response.json()[key]) == count, path
    assert ids(get(client, bearer, f"classes/{maths}/students").json(), "users") == [amy]
    assert set(ids(get(client, bearer, f"students/{amy}/classes").json(), "classes")) == {
        maths,
        classes["7A"]["sourcedId"],
    }


def test_the_mapping_of_a_pupil_a_class_and_the_sessions(client: Client, bearer: str, approved: DataFlow) -> None:
    amy = next(s for s in get(client, bearer, "students").json()["users"] if s["givenName"] == "Ames")
    assert (amy["familyName"], amy["preferredFirstName"]) == ("Khan", "Ames")
    assert "email" not in amy  # the pupil's email is contact details, which rostering does not release
    assert amy["grades"] == ["07"]
    assert [r["role"] for r in amy["roles"]] == ["student"]
    zoe = next(s for s in get(client, bearer, "students").json()["users"] if s["givenName"] == "Zoe")
    assert zoe["grades"] == ["KG"]  # reception
    teacher = get(client, bearer, "teachers").json()["users"][0]
    assert (teacher["givenName"], teacher["roles"][0]["role"]) == ("Jo", "teacher")
    maths = next(c for c in get(client, bearer, "classes").json()["classes"] if c["title"] == "7 Maths set 1")
    assert (maths["classCode"], maths["classType"], maths["subjects"]) == ("7Ma1", "scheduled", ["Maths"])
    sessions = get(client, bearer, "academicSessions").json()["academicSessions"]
    year = next(s for s in sessions if s["type"] == "schoolYear")
    assert (year["startDate"], year["endDate"], year["schoolYear"]) == ("2026-09-01", "2027-08-31", "2027")
    assert {t["sourcedId"] for t in maths["terms"]} == {s["sourcedId"] for s in sessions if s["type"] == "term"}


def test_paging_headers_and_links(client: Client, bearer: str, approved: DataFlow) -> None:
    first = get(client, bearer, "users", limit="3")
    assert (len(first.json()["users"]), first["X-Total-Count"]) == (3, "4")
    assert 'rel="next"' in first["Link"] and "offset=3" in first["Link"]
    second = get(client, bearer, "users", limit="3", offset="3")
    assert len(second.json()["users"]) == 1
    assert 'rel="next"' not in second["Link"] and 'rel="prev"' in second["Link"]
    assert not set(ids(first.json(), "users")) & set(ids(second.json(), "users"))


def test_filter_sort_and_fields(client: Client, bearer: str, approved: DataFlow) -> None:
    names = get(client, bearer, "users", sort="givenName", orderBy="desc", fields="sourcedId,givenName").json()
    assert [u["givenName"] for u in names["users"]] == ["Zoe", "Jo", "Ben", "Ames"]
    assert all(set(u) == {"sourcedId", "givenName"} for u in names["users"])
    students = get(client, bearer, "users", filter="roles.role='student' AND givenName!='Ben'").json()
    assert sorted(u["givenName"] for u in students["users"]) == ["Ames", "Zoe"]
    either = get(client, bearer, "users", filter="givenName='Jo' OR givenName~'AM'").json()
    assert sorted(u["givenName"] for u in either["users"]) == ["Ames", "Jo"]
    assert get(client, bearer, "classes", filter="classType='homeroom'").json()["classes"][0]["title"] == "7A"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"filter": "shoeSize='9'"}, "invalid_filter_field"),
        ({"filter": "givenName='Amy"}, "invalid_filter_field"),
        ({"filter": "givenName='Amy' AND"}, "invalid_filter_field"),
        ({"filter": "givenName 'Amy'"}, "invalid_filter_field"),
        ({"sort": "shoeSize"}, "invalid_sort_field"),
        ({"orderBy": "sideways"}, "invalid_sort_field"),
        ({"fields": "givenName,shoeSize"}, "invalid_selection_field"),
        ({"limit": "-1"}, "invalid_query_parameter"),
        ({"offset": "x"}, "invalid_query_parameter"),
    ],
)
def test_a_bad_query_is_400_in_imsx_form_and_logs_nothing(
    client: Client, bearer: str, approved: DataFlow, school: Organisation, params: dict[str, str], code: str
) -> None:
    response = get(client, bearer, "users", **params)
    assert response.status_code == 400
    body = response.json()
    validate("imsx_StatusInfo", body)
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == code
    with tenant_scope([school.id]):
        assert not Disclosure.objects.exists()


def test_unknown_ids_are_404_and_tokens_401_or_403(client: Client, bearer: str, approved: DataFlow) -> None:
    for path in ("users/nope", "classes/nope", "schools/nope/students", "classes/nope/teachers", "orgs/nope"):
        response = get(client, bearer, path)
        assert response.status_code == 404, path
        validate("imsx_StatusInfo", response.json())
    assert get(client, "not-a-token", "users").status_code == 401
    core = bearer_for(client, "learning-app", "roster-core.readonly")
    assert get(client, core, "users").status_code == 200
    refused = get(client, core, "terms")  # terms and nested collections need roster.readonly
    assert refused.status_code == 403
    validate("imsx_StatusInfo", refused.json())
    read = bearer_for(client, "learning-app", "read")  # the recipient API's scope is not a OneRoster scope
    assert get(client, read, "users").status_code == 403


def test_ids_are_per_recipient_and_never_the_mis_id(client: Client, school: Organisation) -> None:
    approve(school, "learning-app")
    approve(school, "microsoft-365")
    one = get(client, bearer_for(client, "learning-app"), "students").json()["users"]
    two = get(client, bearer_for(client, "microsoft-365"), "students").json()["users"]
    assert sorted(u["givenName"] for u in one) == sorted(u["givenName"] for u in two)
    assert not {u["sourcedId"] for u in one} & {u["sourcedId"] for u in two}
    expected = subject_id(recipient_code="learning-app", school_urn=school.urn or 0, kind="student", source_id="L1")
    assert expected in {u["sourcedId"] for u in one}
    assert not {u["sourcedId"] for u in one} & {"L1", "L2", "L3"}


def test_fields_outside_the_approval_are_absent(client: Client, school: Organisation) -> None:
    approve(
        school,
        "learning-app",
        fields=["learners.legal_forename", "learners.legal_surname", "groups.name"],
        categories=["learner.identity", "learner.groups"],
    )
    bearer = bearer_for(client, "learning-app")
    amy = next(u for u in get(client, bearer, "students").json()["users"] if u["givenName"] == "Amy")
    assert not {"email", "grades", "preferredFirstName"} & set(amy)
    maths = next(c for c in get(client, bearer, "classes").json()["classes"] if c["title"] == "7 Maths set 1")
    assert not {"classCode", "subjects"} & set(maths)
    assert get(client, bearer, "teachers").json()["users"] == []  # no staff released
    assert get(client, bearer, "enrollments").json()["enrollments"] == []  # no memberships released
    # A filter on a field that is not released matches nothing rather than telling its values.
    assert get(client, bearer, "users", filter="preferredFirstName='Ames'").json()["users"] == []


def test_a_school_without_an_approved_flow_is_invisible(client: Client, bearer: str, approved: DataFlow) -> None:
    other = make_school("Hawthorn School")
    approve(other, "microsoft-365")  # another recipient's flow: nothing of it for learning-app
    orgs = get(client, bearer, "orgs").json()["orgs"]
    assert [o["name"] for o in orgs] == ["Willow Academy"]
    assert get(client, bearer, "users").json()["users"].__len__() == 4
    theirs = subject_id(recipient_code="learning-app", school_urn=other.urn or 0, kind="student", source_id="L1")
    assert get(client, bearer, f"students/{theirs}").status_code == 404
    assert get(client, bearer_for(client, "network-directory"), "orgs").status_code == 403  # no flow at all


def test_a_restricted_pupil_is_absent(client: Client, bearer: str, approved: DataFlow, school: Organisation) -> None:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        MisPrivacyProvider().restrict_subject(Subject("learner", learner.id, school.id), restricted=True)
    assert sorted(u["givenName"] for u in get(client, bearer, "students").json()["users"]) == ["Ben", "Zoe"]
    assert len(get(client, bearer, "enrollments").json()["enrollments"]) == 2


def test_a_kept_roster_never_outlives_a_restriction_an_erasure_or_a_lifting(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    """The roster kept between pages (rostering/cache.py) is dropped by anything it shows changing."""

    def names() -> list[str]:
        users = get(client, bearer, "students").json()["users"]
        return sorted(u["givenName"] for u in users if u["status"] == "active")

    assert names() == ["Ames", "Ben", "Zoe"]
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        subject = Subject("learner", learner.id, school.id)
        MisPrivacyProvider().restrict_subject(subject, restricted=True)
    assert names() == ["Ben", "Zoe"]
    with tenant_scope([school.id]):
        MisPrivacyProvider().restrict_subject(subject, restricted=False)
    assert names() == ["Ames", "Ben", "Zoe"]
    with tenant_scope([school.id]):
        MisPrivacyProvider().erase_subject(subject, dry_run=False)
    assert names() == ["Ben", "Zoe"]  # and Ames's record is now `tobedeleted`, without a name


def test_further_pages_reuse_the_mapped_roster(client: Client, bearer: str, approved: DataFlow) -> None:
    """Page two is a slice of what page one mapped: only the key and the disclosure are queried."""
    cache.forget()
    with CaptureQueriesContext(connection) as first:
        page_one = get(client, bearer, "users", limit="2", sort="familyName")
    with CaptureQueriesContext(connection) as second:
        page_two = get(client, bearer, "users", limit="2", offset="2", sort="familyName")
    assert len(second) < len(first)
    assert not any("mis_learner" in q["sql"] for q in second.captured_queries)
    ids = [u["sourcedId"] for u in page_one.json()["users"] + page_two.json()["users"]]
    everyone = get(client, bearer, "users", limit="100", sort="familyName").json()["users"]
    assert ids == [u["sourcedId"] for u in everyone][: len(ids)] and len(set(ids)) == len(ids) > 2


def test_demographics_need_the_scope_and_a_releasing_flow(client: Client, school: Organisation) -> None:
    approve(school, "learning-app")
    both = "roster.readonly roster-demographics.readonly"
    assert get(client, bearer_for(client, "learning-app", both), "demographics").status_code == 403  # not released
    approve(
        school,
        "microsoft-365",
        fields=["learners.legal_forename", "learners.legal_surname", "learners.date_of_birth", "learners.gender"],
        categories=["learner.identity"],
    )
    assert get(client, bearer_for(client, "microsoft-365"), "demographics").status_code == 403  # no scope
    response = get(client, bearer_for(client, "microsoft-365", both), "demographics")
    assert response.status_code == 200
    validate("demographics", response.json())
    records = response.json()["demographics"]
    assert {(r["birthDate"], r["sex"]) for r in records} == {("2015-03-02", "female")}
    assert all(set(r) == {"sourcedId", "status", "dateLastModified", "birthDate", "sex"} for r in records)


def test_every_page_is_a_disclosure(client: Client, bearer: str, approved: DataFlow, school: Organisation) -> None:
    get(client, bearer, "users", limit="2", sort="givenName")
    with tenant_scope([school.id]):
        logged = list(Disclosure.objects.order_by("record_type"))
    assert [(d.record_type, d.channel, d.record_count) for d in logged] == [("learners", "api", 2)]
    assert logged[0].subject_ids == ["L1", "L3"]  # Ames, Ben
    assert logged[0].flows == [approved.id]
    get(client, bearer, "orgs")  # the school itself is not personal data
    with tenant_scope([school.id]):
        assert Disclosure.objects.count() == 1


def test_delta_reads_and_deletions(client: Client, bearer: str, approved: DataFlow, school: Organisation) -> None:
    """The MIS stamps records with the database's clock, which stands still inside a test's one
    transaction: the delta point is read from the data, and the deletion is moved a minute later."""
    before = get(client, bearer, "students").json()["users"]
    since = max(u["dateLastModified"] for u in before)
    assert get(client, bearer, "students", filter=f"dateLastModified>'{since}'").json()["users"] == []
    remaining = school_records()
    for record_type in ("learners", "school-enrolments", "group-enrolments"):
        remaining[record_type] = [
            r for r in remaining[record_type] if "L3" not in (r["source_id"], r.get("learner_source_id"))
        ]
    send(school, remaining, mode="full")
    with tenant_scope([school.id]):
        stones = Tombstone.objects.filter(source_id__in=["L3", "GEL3G8MA"])
        assert stones.update(deleted_at=F("deleted_at") + dt.timedelta(minutes=1)) == 2
    changed = get(client, bearer, "students", filter=f"dateLastModified>'{since}'").json()["users"]
    validate("user", {"users": changed})
    gone = subject_id(recipient_code="learning-app", school_urn=school.urn or 0, kind="student", source_id="L3")
    assert [(u["status"], u["sourcedId"]) for u in changed] == [("tobedeleted", gone)]
    active = get(client, bearer, "students", filter="status='active'").json()["users"]
    assert sorted(u["givenName"] for u in active) == ["Ames", "Zoe"]
    deleted = get(client, bearer, "enrollments", filter="status='tobedeleted'").json()["enrollments"]
    assert len(deleted) == 1


def test_queries_do_not_grow_with_the_roster(
    client: Client, bearer: str, approved: DataFlow, school: Organisation
) -> None:
    """Each kind is read with one statement for all the recipient's schools: no query per record."""
    paths = (
        "users",
        "enrollments",
        "classes",
        f"students/{get(client, bearer, 'students').json()['users'][0]['sourcedId']}/classes",
    )

    def statements() -> list[int]:
        cache.forget()  # both rounds read cold, as the first request of a recipient does
        counts = []
        for path in paths:
            with CaptureQueriesContext(connection) as captured:
                assert get(client, bearer, path).status_code == 200
            counts.append(len(captured))
        return counts

    small = statements()
    more = records(*(pupil(f"N{n}", f"New{n}", "8", "G8MA", "G7A") for n in range(30)))
    send(school, more, mode="delta")
    assert len(get(client, bearer, "users", limit="1000").json()["users"]) == 34
    assert statements() == small


def test_a_suspended_flow_stops_at_once(client: Client, bearer: str, approved: DataFlow, school: Organisation) -> None:
    assert len(get(client, bearer, "students").json()["users"]) == 3
    with tenant_scope([school.id]):
        sharing.flow_suspend(flow=approved, actor=Actor.system("DPO"))
    refused = get(client, bearer, "students")
    assert refused.status_code == 403
    validate("imsx_StatusInfo", refused.json())
    anonymous = client.get(f"{BASE}/students")
    assert (anonymous.status_code, anonymous["WWW-Authenticate"]) == (401, 'Bearer realm="oneroster"')
    validate("imsx_StatusInfo", anonymous.json())
