"""NotifyEmailBackend against a stand-in for GOV.UK Notify's API on loopback."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from notifications_python_client.errors import APIError

from steward.notifications.email import send_email
from steward.notifications.govuk_notify import NotifyEmailBackend
from tests.notify_fixtures import NotifyApi


def test_send_email_posts_one_notification_with_the_generic_template(notify_api: NotifyApi) -> None:
    send_email("parent@example.org", "New behaviour note for Sam", "Sign in to Steward to see it.")

    [request] = notify_api.requests
    assert request.method == "POST"
    assert request.path == "/v2/notifications/email"
    assert notify_api.sent() == [
        {
            "email_address": "parent@example.org",
            "template_id": notify_api.template_id,
            "personalisation": {"subject": "New behaviour note for Sam", "body": "Sign in to Steward to see it."},
        }
    ]


def test_the_bearer_token_is_signed_with_the_service_secret_and_names_the_service(notify_api: NotifyApi) -> None:
    send_email("parent@example.org", "New homework for Sam", "Sign in to see it.")

    scheme, token = notify_api.requests[0].headers["authorization"].split(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, notify_api.secret, algorithms=["HS256"])
    assert claims["iss"] == notify_api.service_id
    assert abs(claims["iat"] - time.time()) < 30  # Notify refuses tokens more than 30 s off
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, str(uuid.uuid4()), algorithms=["HS256"])


def test_cc_and_bcc_each_become_a_notification_of_their_own(notify_api: NotifyApi) -> None:
    message = EmailMessage("New attendance mark for Sam", "Sign in.", to=["a@example.org"], cc=["b@example.org"])
    message.bcc = ["c@example.org"]

    assert message.send() == 1
    assert [n["email_address"] for n in notify_api.sent()] == ["a@example.org", "b@example.org", "c@example.org"]


def test_a_refusal_from_notify_raises_with_its_status(notify_api: NotifyApi) -> None:
    notify_api.status = 400
    notify_api.response_body = b'{"status_code": 400, "errors": [{"error": "BadRequestError", "message": "no"}]}'

    with pytest.raises(APIError) as refused:
        send_email("parent@example.org", "New homework for Sam", "Sign in.")
    assert refused.value.status_code == 400


def test_fail_silently_counts_only_what_notify_accepted(notify_api: NotifyApi) -> None:
    notify_api.status = 500
    backend = get_connection(fail_silently=True)

    sent = backend.send_messages([EmailMessage("New homework for Sam", "Sign in.", to=["parent@example.org"])])

    assert sent == 0
    assert len(notify_api.requests) >= 1  # it did try


def test_without_a_key_the_backend_refuses_to_start() -> None:
    with pytest.raises(ImproperlyConfigured):
        NotifyEmailBackend(api_key="", template_id="")
