"""The OAuth token endpoint refuses secret guessing: after ten refused requests for one client
(or thirty from one address) it answers 429 with Retry-After, before checking any secret."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.core.models import RateLimitCounter
from steward.tenancy.models import ApiClient
from steward.tenancy.scope import processor_scope
from steward.tenancy.services import api_client_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent() -> tuple[str, str]:
    _, client_id, secret = api_client_create(
        name="Ash MIS agent", kind=ApiClient.Kind.MIS_AGENT, school=factories.school("Ash Primary")
    )
    return client_id, secret


def _token(client: Client, client_id: str, secret: str, address: str = "203.0.113.7") -> tuple[int, dict, dict]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": "ingest"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
        REMOTE_ADDR=address,
    )
    return response.status_code, response.json(), dict(response.headers)


def test_wrong_secrets_for_one_client_are_refused_with_429_after_ten(client: Client, agent: tuple[str, str]) -> None:
    client_id, secret = agent

    statuses = [_token(client, client_id, f"guess-{i}")[0] for i in range(15)]

    assert statuses == [401] * 10 + [429] * 5
    status, body, headers = _token(client, client_id, secret)  # the right secret, while locked
    assert status == 429
    assert body["error"] == "slow_down"
    assert "retry after" in body["error_description"]
    assert 800 < int(headers["Retry-After"]) <= 900
    assert headers["Cache-Control"] == "no-store"
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        event = AuditEvent.objects.get(action="oauth_token_locked", detail__limit="oauth_token_client")
    assert event.detail["client_id"] == client_id


def test_the_client_lock_holds_from_another_address_and_ends_with_its_window(
    client: Client, agent: tuple[str, str]
) -> None:
    client_id, secret = agent
    for i in range(10):
        _token(client, client_id, f"guess-{i}")

    assert _token(client, client_id, secret, address="198.51.100.4")[0] == 429
    RateLimitCounter.objects.update(window_ends_at=timezone.now())
    assert _token(client, client_id, secret, address="198.51.100.4")[0] == 200


def test_one_address_guessing_many_client_ids_is_refused_after_thirty(client: Client, agent: tuple[str, str]) -> None:
    statuses = [_token(client, f"client-{i}", "guess")[0] for i in range(32)]

    assert statuses == [401] * 30 + [429] * 2
    assert _token(client, *agent)[0] == 429
    assert _token(client, *agent, address="198.51.100.4")[0] == 200  # another address is not affected


def test_nine_wrong_secrets_then_the_right_one_is_a_token_and_successes_are_never_counted(
    client: Client, agent: tuple[str, str]
) -> None:
    client_id, secret = agent
    for i in range(9):
        assert _token(client, client_id, f"guess-{i}")[0] == 401

    for _ in range(20):
        status, body, _ = _token(client, client_id, secret)
        assert status == 200 and body["token_type"] == "Bearer"
    assert {row.hits for row in RateLimitCounter.objects.all()} == {9}
