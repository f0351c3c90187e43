"""The OneRoster 1.2 rostering service (REST binding), read only, at /ims/oneroster/rostering/v1p2/.

Plain Django views rather than the Ninja API: OneRoster fixes its own error envelope
(`imsx_StatusInfo`, not problem+json), its own query grammar and its paging headers, so the
face is thin and the work is in `steward.rostering` (mapping, query, disclosures).

A caller is a recipient API client (OAuth 2.0 client credentials). A missing or bad token is 401;
a token without the scope an endpoint needs is 403: `roster-core.readonly` (or `roster.readonly`)
for the top-level collections and single records, `roster.readonly` for terms, grading periods and
the nested collections, `roster-demographics.readonly` for demographics. A recipient with no
approved rostering flow is 403; an id it does not know (another school's, another recipient's)
is 404, the same answer as an id that never existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from steward.api.auth import bearer_client
from steward.core.replicas import reading_from_replica
from steward.register.models import Recipient
from steward.rostering import cache
from steward.rostering import query as q
from steward.rostering.selectors import Item, Roster, access_for
from steward.rostering.services import disclose_page
from steward.tenancy.models import ApiClient
from steward.tenancy.scope import tenant_scope

BASE = "/ims/oneroster/rostering/v1p2"
CORE = frozenset({"roster-core.readonly", "roster.readonly"})
FULL = frozenset({"roster.readonly"})
DEMOGRAPHICS = frozenset({"roster-demographics.readonly"})

_COMMON = ("sourcedId", "status", "dateLastModified", "metadata")
FIELDS: dict[str, frozenset[str]] = {
    "org": frozenset({*_COMMON, "name", "type", "identifier", "parent", "children"}),
    "academicSession": frozenset(
        {*_COMMON, "title", "startDate", "endDate", "type", "parent", "children", "schoolYear"}
    ),
    "course": frozenset(
        {*_COMMON, "title", "schoolYear", "courseCode", "grades", "subjects", "org", "subjectCodes", "resources"}
    ),
    "class": frozenset(
        {
            *_COMMON,
            *("title", "classCode", "classType", "location", "grades", "subjects", "course", "school", "terms"),
            *("subjectCodes", "periods", "resources"),
        }
    ),
    "user": frozenset(
        {
            *_COMMON,
            *("userMasterIdentifier", "username", "userIds", "enabledUser", "givenName", "familyName"),
            *("middleName", "preferredFirstName", "preferredMiddleName", "preferredLastName", "pronouns"),
            *("roles", "userProfiles", "primaryOrg", "identifier", "email", "sms", "phone", "agents", "grades"),
            "resources",
        }
    ),
    "enrollment": frozenset({*_COMMON, "user", "class", "school", "role", "primary", "beginDate", "endDate"}),
    "demographics": frozenset(
        {
            *_COMMON,
            *("birthDate", "sex", "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican"),
            *("nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces"),
            *("hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth"),
            "publicSchoolResidenceStatus",
        }
    ),
}
# The JSON key of a collection and of a single record, per kind.
PLURAL = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
    "user": "users",
    "enrollment": "enrollments",
    "demographics": "demographics",
}


class Refusal(Exception):
    """An answer in imsx_StatusInfo form (4xx), raised anywhere below a view."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def imsx(status: int, code: str, description: str) -> JsonResponse:
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [{"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}]
        },
    }
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="oneroster"'
    return response


@dataclass
class Call:
    """One authenticated request: the client, its recipient and the roster it may read."""

    request: HttpRequest
    client: ApiClient
    recipient: Recipient
    roster: Roster

    def find(self, items: list[Item], sourced_id: str, what: str) -> Item:
        for item in items:
            if item.data["sourcedId"] == sourced_id:
                return item
        raise Refusal(404, "unknownobject", f"no {what} with sourcedId {sourced_id!r} is known to you")


Selector = Callable[[Call, str | None], list[Item]]


def _endpoint(
    kind: str, scopes: frozenset[str], select: Selector, *, single: bool = False
) -> Callable[..., HttpResponse]:
    @require_GET
    def view(request: HttpRequest, sourced_id: str | None = None) -> HttpResponse:
        try:
            return _answer(request, kind, scopes, select, sourced_id, single)
        except Refusal as refusal:
            return imsx(refusal.status, refusal.code, refusal.description)
        except q.QueryError as bad:
            return imsx(400, bad.code, bad.description)

    return view


def _answer(
    request: HttpRequest, kind: str, scopes: frozenset[str], select: Selector, sourced_id: str | None, single: bool
) -> HttpResponse:
    found = bearer_client(request, kind=ApiClient.Kind.RECIPIENT)
    if found is None:
        raise Refusal(401, "unauthorisedrequest", "send a valid bearer token of a recipient client")
    client, granted = found
    with reading_from_replica():  # after the token (a new one may not have reached a replica yet)
        return _read(request, client, granted, kind, scopes, select, sourced_id, single)


def _read(
    request: HttpRequest,
    client: ApiClient,
    granted: frozenset[str],
    kind: str,
    scopes: frozenset[str],
    select: Selector,
    sourced_id: str | None,
    single: bool,
) -> HttpResponse:
    if not scopes & granted:
        raise Refusal(403, "forbidden", f"this needs a token with the scope {' or '.join(sorted(scopes))}")
    access = access_for(client.recipient_code)
    if not access:
        raise Refusal(403, "forbidden", "no school has approved a rostering flow to you")
    parsed = q.parse_query(request.GET, FIELDS[kind])
    recipient = Recipient.objects.get(code=client.recipient_code)
    with tenant_scope([a.school.id for a in access]):
        roster = cache.roster_for(
            recipient_code=client.recipient_code,
            access=access,
            base_url=request.build_absolute_uri(BASE),
            today=timezone.localdate(),
        )
        call = Call(request, client, recipient, roster)
        if kind == "demographics" and not roster.demographics_released():
            raise Refusal(403, "forbidden", "no approved flow releases demographics to you")
        if single:
            item = call.find(select(call, sourced_id), sourced_id or "", kind)
            disclose_page(recipient_id=recipient.id, access=access, items=[item])
            return JsonResponse({kind: q.project(item.data, parsed.fields)})
        name = request.resolver_match.url_name if request.resolver_match else kind
        key = (name, sourced_id, request.GET.get("filter", ""), parsed.sort, parsed.descending)
        chosen = cache.answer(roster, key, lambda: _ordered(select(call, sourced_id), parsed))
        page, total = chosen[parsed.offset : parsed.offset + parsed.limit], len(chosen)
        disclose_page(recipient_id=recipient.id, access=access, items=page)
    response = JsonResponse({PLURAL[kind]: [q.project(i.data, parsed.fields) for i in page]})
    response["X-Total-Count"] = str(total)
    if links := _links(request, parsed, total):
        response["Link"] = links
    return response


def _ordered(items: list[Item], parsed: q.Query) -> list[Item]:
    """The items the query's filter matches, in its order (all of them: the page is cut later)."""
    by_id = {id(i.data): i for i in items}
    return [by_id[id(d)] for d in q.ordered([i.data for i in items], parsed)]


def _links(request: HttpRequest, parsed: q.Query, total: int) -> str:
    """RFC 8288 links to the first, previous, next and last pages, keeping the other parameters."""

    def url(offset: int) -> str:
        params = {k: v for k, v in request.GET.items() if k not in ("limit", "offset")}
        params.update({"limit": str(parsed.limit), "offset": str(offset)})
        return f"<{request.build_absolute_uri(request.path)}?{urlencode(params)}>"

    last = max(0, (total - 1) // parsed.limit * parsed.limit)
    links = [f'{url(0)}; rel="first"']
    if parsed.offset > 0:
        links.append(f'{url(max(0, parsed.offset - parsed.limit))}; rel="prev"')
    if parsed.offset + parsed.limit < total:
        links.append(f'{url(parsed.offset + parsed.limit)}; rel="next"')
    links.append(f'{url(last)}; rel="last"')
    return ", ".join(links)


# --- what each endpoint selects


def _school(call: Call, sourced_id: str | None) -> int:
    """The school a nested path names (404 for one the caller does not know)."""
    item = call.find(call.roster.orgs, sourced_id or "", "school")
    assert item.school_id is not None  # an org is always a school's
    return item.school_id


def _of_school(items: Callable[[Roster], list[Item]]) -> Selector:
    def select(call: Call, sourced_id: str | None) -> list[Item]:
        school_id = _school(call, sourced_id)
        return [i for i in items(call.roster) if i.school_id == school_id]

    return select


def _class_students(call: Call, sourced_id: str | None) -> list[Item]:
    call.find(call.roster.classes, sourced_id or "", "class")
    users = {e.links["user"] for e in call.roster.enrollments if e.links.get("class") == sourced_id}
    return [s for s in call.roster.students if s.data["sourcedId"] in users]


def _student_classes(call: Call, sourced_id: str | None) -> list[Item]:
    call.find(call.roster.students, sourced_id or "", "student")
    classes = {e.links["class"] for e in call.roster.enrollments if e.links.get("user") == sourced_id}
    return [c for c in call.roster.classes if c.data["sourcedId"] in classes]


def _none_for(items: Callable[[Roster], list[Item]], what: str) -> Selector:
    """The MIS has no link between staff and groups, so a class has no teachers and a teacher no
    classes: the parent record is still looked up, so an unknown id is 404, not an empty list."""

    def select(call: Call, sourced_id: str | None) -> list[Item]:
        call.find(items(call.roster), sourced_id or "", what)
        return []

    return select


def _all(items: Callable[[Roster], list[Item]]) -> Selector:
    return lambda call, _: items(call.roster)


def _sessions_of(kind: str) -> Selector:
    return lambda call, _: [s for s in call.roster.sessions if s.data["type"] == kind]


# The record kind each named URL answers with (the tests' OpenAPI description is built from it).
KIND_OF: dict[str, str] = {}


def _route(route: str, name: str, kind: str, scopes: frozenset[str], select: Selector, *, single: bool = False) -> Any:
    KIND_OF[f"oneroster-{name}"] = kind
    return path(route, _endpoint(kind, scopes, select, single=single), name=f"oneroster-{name}")


urlpatterns = [
    _route("orgs", "orgs", "org", CORE, _all(lambda r: r.orgs)),
    _route("orgs/<str:sourced_id>", "org", "org", CORE, _all(lambda r: r.orgs), single=True),
    _route("schools", "schools", "org", CORE, _all(lambda r: r.orgs)),
    _route("schools/<str:sourced_id>", "school", "org", CORE, _all(lambda r: r.orgs), single=True),
    _route("academicSessions", "sessions", "academicSession", CORE, _all(lambda r: r.sessions)),
    _route(
        "academicSessions/<str:sourced_id>", "session", "academicSession", CORE, _all(lambda r: r.sessions), single=True
    ),
    _route("terms", "terms", "academicSession", FULL, _sessions_of("term")),
    _route("gradingPeriods", "grading-periods", "academicSession", FULL, _sessions_of("gradingPeriod")),
    _route("courses", "courses", "course", CORE, _all(lambda r: r.courses)),
    _route("courses/<str:sourced_id>", "course", "course", CORE, _all(lambda r: r.courses), single=True),
    _route("classes", "classes", "class", CORE, _all(lambda r: r.classes)),
    _route("classes/<str:sourced_id>", "class", "class", CORE, _all(lambda r: r.classes), single=True),
    _route("users", "users", "user", CORE, _all(lambda r: r.users)),
    _route("users/<str:sourced_id>", "user", "user", CORE, _all(lambda r: r.users), single=True),
    _route("students", "students", "user", CORE, _all(lambda r: r.students)),
    _route("students/<str:sourced_id>", "student", "user", CORE, _all(lambda r: r.students), single=True),
    _route("teachers", "teachers", "user", CORE, _all(lambda r: r.teachers)),
    _route("teachers/<str:sourced_id>", "teacher", "user", CORE, _all(lambda r: r.teachers), single=True),
    _route("enrollments", "enrollments", "enrollment", CORE, _all(lambda r: r.enrollments)),
    _route(
        "enrollments/<str:sourced_id>", "enrollment", "enrollment", CORE, _all(lambda r: r.enrollments), single=True
    ),
    _route("demographics", "demographics", "demographics", DEMOGRAPHICS, _all(lambda r: r.demographics)),
    _route(
        "demographics/<str:sourced_id>",
        "demographic",
        "demographics",
        DEMOGRAPHICS,
        _all(lambda r: r.demographics),
        single=True,
    ),
    _route("schools/<str:sourced_id>/classes", "school-classes", "class", FULL, _of_school(lambda r: r.classes)),
    _route("schools/<str:sourced_id>/students", "school-students", "user", FULL, _of_school(lambda r: r.students)),
    _route("schools/<str:sourced_id>/teachers", "school-teachers", "user", FULL, _of_school(lambda r: r.teachers)),
    _route(
        "schools/<str:sourced_id>/enrollments",
        "school-enrollments",
        "enrollment",
        FULL,
        _of_school(lambda r: r.enrollments),
    ),
    _route("classes/<str:sourced_id>/students", "class-students", "user", FULL, _class_students),
    _route(
        "classes/<str:sourced_id>/teachers", "class-teachers", "user", FULL, _none_for(lambda r: r.classes, "class")
    ),
    _route("students/<str:sourced_id>/classes", "student-classes", "class", FULL, _student_classes),
    _route(
        "teachers/<str:sourced_id>/classes",
        "teacher-classes",
        "class",
        FULL,
        _none_for(lambda r: r.teachers, "teacher"),
    ),
]
