"""The OneRoster tests' world: a school's MIS data (classes, pupils, teachers), approved rostering
flows to two learning platforms, and real tokens from the OAuth endpoint. Today is fixed (autumn
term 2026), because the academic sessions are derived from it.

The sign-in tests' world (below): a school whose approved rostering flow names a registered app,
staff in its MIS, and the callback an OpenID Connect client is sent back to.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import pytest
import requests
import time_machine
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from django.test import Client
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.register.models import ProcessingActivity, Recipient
from steward.rostering.models import SignInApp
from steward.rostering.services import sign_in_app_register
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow
from steward.tenancy.models import ApiClient, Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from steward.tenancy.services import api_client_create
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.ingest import builders as b
from tests.provisioning.conftest import records, send, staff

BASE = "/ims/oneroster/rostering/v1p2"
SCHEMAS = Path(__file__).parent / "schemas"
TODAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

# Everything a learning platform could be given, fields by record type (no special categories).
ROSTER_FIELDS = [
    "learners.legal_forename",
    "learners.legal_surname",
    "learners.preferred_forename",
    "school-enrolments.year_group",
    "groups.name",
    "groups.code",
    "groups.subject",
    "group-enrolments.group_source_id",
    "group-enrolments.learner_source_id",
    "group-enrolments.start_date",
    "staff.forename",
    "staff.surname",
    "staff.email",
    "staff-assignments.role",
]
CATEGORIES = [
    "learner.identity",
    "learner.enrolment",
    "learner.groups",
    "staff.identity",
    "staff.assignment",
    "staff.work_contact",
]


def pupil(sid: str, forename: str, year: str, *groups: str, **fields: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "learners": [b.learner(sid, legal_forename=forename, legal_surname="Khan", **fields)],
        "school-enrolments": [
            {
                "source_id": f"E{sid}",
                "learner_source_id": sid,
                "entry_date": "2025-09-01",
                "enrolment_status": "C",
                "year_group": year,
            }
        ],
        "group-enrolments": [
            {"source_id": f"GE{sid}{g}", "group_source_id": g, "learner_source_id": sid, "start_date": "2026-09-01"}
            for g in groups
        ],
    }


GROUPS = {
    "groups": [
        {"source_id": "G7A", "name": "7A", "code": "7A", "group_type": "registration"},
        {"source_id": "G7MA", "name": "7 Maths set 1", "code": "7Ma1", "group_type": "teaching", "subject": "Maths"},
        {"source_id": "G8MA", "name": "8 Maths set 1", "code": "8Ma1", "group_type": "teaching", "subject": "Maths"},
        {"source_id": "GHOUSE", "name": "Oak house", "group_type": "house"},
    ]
}


def school_records() -> dict[str, list[dict[str, Any]]]:
    return records(
        GROUPS,
        staff("S1", "Jo", "Bloggs", role="Class Teacher"),
        staff("S2", "Sam", "Patel", role="Teaching Assistant"),
        pupil("L1", "Amy", "7", "G7A", "G7MA", preferred_forename="Ames", email="amy@pupils.example"),
        pupil("L2", "Zoe", "R", "G7A"),
        pupil("L3", "Ben", "8", "G8MA"),
    )


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


def make_school(name: str) -> Organisation:
    school = factories.school(name, services_=("hosted_mis", "rostering"))
    send(school, school_records(), mode="full")
    return school


def approve(
    school: Organisation, recipient: str, fields: list[str] | None = None, categories: list[str] | None = None
) -> DataFlow:
    actor = Actor.system("DPO")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code=recipient),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Accounts and classes on the learning platform",
            lawful_basis="6.1.e",
            categories=categories or CATEGORIES,
            actor=actor,
        )
        return sharing.flow_approve(flow=flow, actor=actor, fields=fields or ROSTER_FIELDS)


@pytest.fixture
def school() -> Organisation:
    return make_school("Willow Academy")


@pytest.fixture
def approved(school: Organisation) -> DataFlow:
    return approve(school, "learning-app")


def bearer_for(client: Client, recipient: str, scope: str = "roster.readonly") -> str:
    _, client_id, secret = api_client_create(
        name=f"{recipient} OneRoster", kind=ApiClient.Kind.RECIPIENT, recipient_code=recipient
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


@pytest.fixture
def bearer(client: Client) -> str:
    return bearer_for(client, "learning-app")


def get(client: Client, bearer: str, path: str, **params: str) -> Any:
    """GET a OneRoster path; returns the response (its JSON at `.json()`)."""
    return client.get(f"{BASE}/{path}", params, HTTP_AUTHORIZATION=f"Bearer {bearer}")


def validate(kind: str, body: Any) -> None:
    """Check a body against the schema written down from the specification (raises if it does not fit)."""
    schema = json.loads((SCHEMAS / f"{kind}.json").read_text())
    jsonschema_rs.validator_for(schema).validate(body)


ISSUER = "http://testserver/oauth"
CALLBACK = "https://app.example/callback"
FIELDS = ["staff-assignments.role", "staff-assignments.staff_source_id", "staff.forename", "staff.surname"]


class DjangoTransport(BaseAdapter):
    """requests -> Django's test client: the RP's server-to-server calls (discovery, JWKS, token,
    userinfo) as HTTP requests with their headers and bodies, without a socket."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url or "")
        headers = dict(request.headers)
        content_type = headers.pop("Content-Type", "")
        extra = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in headers.items()
            if name.lower() not in ("content-length", "host")
        }
        body = request.body or b""
        answer = self.client.generic(
            str(request.method),
            url.path + (f"?{url.query}" if url.query else ""),
            data=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            **extra,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(dict(answer.items()))
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


class RelyingParty(OpenIDMixin):  # type: ignore[misc]
    """authlib's OpenID Connect client logic (JWKS, ID token and userinfo checks) over an OAuth2Session."""

    def __init__(self, client_id: str, secret: str, *, scope: str = "openid profile email") -> None:
        self.client_id = client_id
        self.session = OAuth2Session(
            client_id,
            secret or None,
            scope=scope,
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",  # noqa: S106
        )
        self.session.mount("http://testserver/", DjangoTransport(Client()))
        self.server_metadata: dict[str, Any] = self.session.get(
            f"{ISSUER}/.well-known/openid-configuration", withhold_token=True
        ).json()

    def load_server_metadata(self) -> dict[str, Any]:
        return self.server_metadata

    def _get_session(self) -> contextlib.AbstractContextManager[OAuth2Session]:
        return contextlib.nullcontext(self.session)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(url, **kwargs)

    def start(self, **extra: str) -> Attempt:
        """The authorisation request the app sends the person's browser to."""
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = self.session.create_authorization_url(
            self.server_metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        return Attempt(url=url, state=state, verifier=verifier, nonce=nonce)

    def finish(self, attempt: Attempt, callback: str) -> dict[str, Any]:
        token: dict[str, Any] = self.session.fetch_token(
            self.server_metadata["token_endpoint"],
            authorization_response=callback,
            code_verifier=attempt.verifier,
            state=attempt.state,
        )
        return token


@dataclass
class Attempt:
    url: str
    state: str
    verifier: str
    nonce: str

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.path}?{parts.query}"


def consent_code(world: World, attempt: Attempt) -> str:
    """The teacher opens the app's link (saying yes on the consent screen the first time) and the
    app gets back a code."""
    response = world.browser.get(attempt.path)
    if response.status_code == 200:  # first time here: the consent screen
        response = world.browser.post(attempt.path, {"decision": "yes"})
    return callback_params(response["Location"])["code"]


def callback_params(location: str) -> dict[str, str]:
    assert location.startswith(CALLBACK), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class World:
    school: Organisation
    teacher: User
    flow: DataFlow
    app: SignInApp
    client_id: str
    secret: str
    browser: Client

    def rp(self, **kwargs: Any) -> RelyingParty:
        return RelyingParty(self.client_id, self.secret, **kwargs)


def staff_records(email: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "staff": [
            {"source_id": "S1", "forename": "Ada", "surname": "Lovelace", "email": email},
            {"source_id": "S2", "forename": "Alan", "surname": "Turing", "email": "alan@alder.invalid"},
        ],
        "staff-assignments": [
            {"source_id": "A1", "staff_source_id": "S1", "role": "Teacher", "start_date": "2020-09-01"},
            {"source_id": "A2", "staff_source_id": "S1", "role": "Head of maths", "start_date": "2021-09-01"},
        ],
    }


def school_with_flow(
    name: str, email: str, *, approve: bool = True, fields: list[str] | None = None
) -> tuple[Organisation, DataFlow]:
    school = factories.school(name, services_=("hosted_mis", "rostering"))
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(staff_records(email))), format="csv-zip", mode="full", sent_by="t"
    )
    actor = Actor.system("Test DPO")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="learning-app"),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Give teachers accounts in the maths app, in their classes.",
            lawful_basis="6.1.e",
            categories=["staff.identity", "staff.assignment", "staff.work_contact"],
            fields=fields or FIELDS,
            actor=actor,
        )
        if approve:
            sharing.flow_approve(flow=flow, actor=actor)
    return school, flow


@pytest.fixture
def world(db: None, client: Client) -> World:
    school, flow = school_with_flow("Alder Primary", "ada@alder.invalid")
    teacher = factories.user(Role.SCHOOL_ADMIN, school, email="ada@alder.invalid")
    app, client_id, secret = sign_in_app_register(
        recipient=Recipient.objects.get(code="learning-app"),
        name="Maths learning app",
        redirect_uris=[CALLBACK],
        confidential=True,
        actor=Actor.system("test"),
    )
    sign_in(client, teacher)
    return World(school, teacher, flow, app, client_id, secret, client)
