"""Property-based API tests: schemathesis generates requests from our OpenAPI document and checks
that no response is a server error and every response matches the document."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from steward.api.urls import api
from steward.tenancy.models import ApiClient
from steward.tenancy.services import api_client_create
from tests import factories

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))
schema.app = get_wsgi_application()


def _token(client: Client, client_id: str, secret: str, scope: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    return str(response.json()["access_token"])


@pytest.fixture
def tokens(client: Client) -> dict[str, str]:
    school = factories.school("Schema School", services_=("hosted_mis", "data_exchange"))
    _, agent_id, agent_secret = api_client_create(name="agent", kind=ApiClient.Kind.MIS_AGENT, school=school)
    _, recipient_id, recipient_secret = api_client_create(
        name="LA", kind=ApiClient.Kind.RECIPIENT, recipient_code="la-attendance"
    )
    return {
        "ingest": _token(client, agent_id, agent_secret, "ingest"),
        "read": _token(client, recipient_id, recipient_secret, "read"),
    }


@pytest.fixture
def api_tokens(tokens: dict[str, str]) -> Iterator[dict[str, str]]:
    """The WSGI app would close the database connection after each request (and with it the test's
    transaction); Django's own test client disconnects the same handlers, so do that here too, after
    the tokens were issued through the test client."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tokens
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_documented_schema(case: Any, api_tokens: dict[str, str]) -> None:
    scope = "ingest" if case.path.startswith("/api/v1/ingest") else "read"
    response = case.call(headers={"Authorization": f"Bearer {api_tokens[scope]}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
