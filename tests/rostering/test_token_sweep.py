"""The daily token sweep (`signins.tasks.sweep_tokens_task`), with the clock set by time-machine.

A teacher signs in to an app through the real OpenID Connect flow (an access token linked to its
consent, a refresh token, an ID token), leaves a code unused, and an MIS agent takes a token; two
hours later the sweep deletes them (the ID token at its ten hours), a token issued since stays and
still works, and a second sweep finds nothing. Each of these rows names whom it was issued to, so
none may stay for ever.
"""

from __future__ import annotations

import datetime as dt

from django.test import Client
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken
from time_machine import TimeMachineFixture

from steward.audit.models import AuditEvent
from steward.rostering.models import SignInToken
from steward.signins.tasks import sweep_tokens_task
from steward.tenancy.models import ApiClient
from steward.tenancy.scope import estate_scope, processor_scope
from steward.tenancy.services import api_client_create
from tests.ingest.test_api import token
from tests.rostering.conftest import CALLBACK, World, consent_code

START = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def _rows() -> list[int]:
    return [AccessToken.objects.count(), RefreshToken.objects.count(), IDToken.objects.count(), Grant.objects.count()]


def test_expired_tokens_and_codes_go_and_a_live_token_stays(
    world: World, client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(START, tick=False)
    rp = world.rp()
    attempt = rp.start()
    code = consent_code(world, attempt)
    app_token = rp.finish(attempt, f"{CALLBACK}?code={code}&state={attempt.state}")["access_token"]
    assert dict(rp.userinfo())["given_name"] == "Ada"
    consent_code(world, rp.start())  # a code the app never redeemed
    agent = api_client_create(name="Alder MIS agent", kind=ApiClient.Kind.MIS_AGENT, school=world.school)
    token(client, agent[1], agent[2])
    with estate_scope():
        assert SignInToken.objects.count() == 1
    issued = _rows()
    assert issued == [2, 1, 1, 1], issued

    time_machine.move_to(START + dt.timedelta(minutes=59), tick=False)
    assert sweep_tokens_task.call() == [0, 0, 0, 1]  # only the code (a minute's life) has expired
    assert dict(rp.userinfo())["given_name"] == "Ada"  # the app's token still answers

    time_machine.move_to(START + dt.timedelta(hours=2, minutes=1), tick=False)
    live = token(client, agent[1], agent[2])
    assert sweep_tokens_task.call() == [2, 1, 0, 0]  # the ID token lives ten hours (its `exp`)
    assert _rows() == [1, 0, 1, 0]
    assert AccessToken.objects.get().expires == START + dt.timedelta(hours=3, minutes=1)  # the one just issued
    with estate_scope():
        assert SignInToken.objects.count() == 0  # the token's link to the teacher's consent went with it
    userinfo = rp.server_metadata["userinfo_endpoint"]
    assert client.get(userinfo, headers={"Authorization": f"Bearer {app_token}"}).status_code == 401  # gone
    live_answer = client.get(
        "/api/v1/ingest/batches/00000000-0000-4000-8000-000000000000", headers={"Authorization": f"Bearer {live}"}
    )
    assert live_answer.status_code == 404, live_answer.content  # authenticated: no such batch, not 401
    assert sweep_tokens_task.call() == [0, 0, 0, 0]  # idempotent

    time_machine.move_to(START + dt.timedelta(hours=10, minutes=1), tick=False)
    assert sweep_tokens_task.call() == [1, 0, 1, 0]
    assert _rows() == [0, 0, 0, 0]

    with processor_scope():
        events = list(AuditEvent.objects.filter(action="tokens_swept").order_by("id"))
    assert [e.detail["access_tokens"] for e in events] == [0, 2, 0, 1]
    assert events[1].detail == {"access_tokens": 2, "refresh_tokens": 1, "id_tokens": 0, "grants": 0}
    assert {e.actor_label for e in events} == {"token sweep"} and all(e.school_id is None for e in events)
