"""A school whose MIS knows a teacher who is also a Steward user, an app registered for sign-in, and
a relying party: authlib's OAuth 2.0 session and OpenID Connect client code, speaking HTTP to
Steward through Django's test client (a requests transport adapter, so every request goes through
Steward's real URL routing, middleware and views)."""

from __future__ import annotations

import contextlib
import io
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
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
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import sign_in
from tests.ingest import builders as b

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
