"""The ingest tests' school and its MIS agent's bearer token, shared by the API and bad-input tests."""

from __future__ import annotations

import pytest
from django.test import Client

from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.services import api_client_create
from tests import factories
from tests.ingest.test_api import token


@pytest.fixture
def school_a() -> Organisation:
    return factories.school("Ash Primary")


@pytest.fixture
def agent_a(client: Client, school_a: Organisation) -> str:
    _, client_id, secret = api_client_create(name="Ash MIS agent", kind=ApiClient.Kind.MIS_AGENT, school=school_a)
    return token(client, client_id, secret)
