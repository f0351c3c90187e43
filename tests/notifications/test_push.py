"""send_push against a stand-in for a browser vendor's push service on loopback."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_django.fixtures import Settings

from steward.notifications.push import PushResult, send_push, vapid_public_key
from tests.notify_fixtures import PushReceiver, RecordingServer

PAYLOAD = {"title": "New homework for Sam", "url": "/portal/homework/"}


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_push_is_delivered_and_decrypts_to_the_payload(push_receiver: PushReceiver) -> None:
    result = send_push(push_receiver.subscription, PAYLOAD, ttl=600)

    assert result == PushResult(delivered=True, status=201)
    [request] = push_receiver.requests
    assert push_receiver.url + request.path == push_receiver.subscription["endpoint"]
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["ttl"] == "600"
    assert PAYLOAD["title"].encode() not in request.body  # the push service sees ciphertext only
    assert push_receiver.payload() == PAYLOAD


def test_the_vapid_header_carries_our_public_key_and_a_token_it_verifies(
    push_receiver: PushReceiver, settings: Settings
) -> None:
    send_push(push_receiver.subscription, PAYLOAD)

    scheme, params = push_receiver.requests[0].headers["authorization"].split(" ", 1)
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert scheme == "vapid"
    assert fields["k"] == vapid_public_key()
    point = _b64url_decode(vapid_public_key())
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point, as applicationServerKey needs
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=push_receiver.url)
    assert claims["sub"] == settings.VAPID_SUBJECT == "mailto:dpo@steward.invalid"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600  # RFC 8292: at most a day


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_gone(push_receiver: PushReceiver, status: int) -> None:
    push_receiver.status = status

    result = send_push(push_receiver.subscription, PAYLOAD)

    assert result.delivered is False
    assert result.gone is True
    assert result.status == status


@pytest.mark.parametrize("status", [413, 429, 500])
def test_other_refusals_fail_but_keep_the_subscription(push_receiver: PushReceiver, status: int) -> None:
    push_receiver.status = status

    result = send_push(push_receiver.subscription, PAYLOAD)

    assert (result.delivered, result.gone, result.status) == (False, False, status)


def test_an_unreachable_push_service_is_a_failure_not_an_exception(push_receiver: PushReceiver) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscription = {**push_receiver.subscription, "endpoint": f"http://127.0.0.1:{port}/push/abc"}

    result = send_push(subscription, PAYLOAD)

    assert result.delivered is False
    assert result.gone is False
    assert result.reason.startswith("network:")


def test_a_subscription_without_keys_is_a_failure_not_an_exception(push_receiver: PushReceiver) -> None:
    result = send_push({"endpoint": push_receiver.subscription["endpoint"]}, PAYLOAD)

    assert result.delivered is False
    assert result.reason.startswith("invalid subscription")
    assert push_receiver.requests == []


def test_a_payload_too_large_for_one_record_is_refused(push_receiver: PushReceiver) -> None:
    with pytest.raises(ValueError, match="at most 3993"):
        send_push(push_receiver.subscription, {"title": "x" * 4000})
    assert push_receiver.requests == []


def test_the_generated_key_is_kept_private_and_reused(vapid_key: str, settings: Settings) -> None:
    path = Path(settings.VAPID_PRIVATE_KEY_FILE)

    assert path.stat().st_mode & 0o777 == 0o600
    assert vapid_public_key() == vapid_key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_key_from_the_environment_wins_in_pem_or_raw_form(settings: Settings, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    expected = base64.urlsafe_b64encode(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    ).rstrip(b"=")
    settings.VAPID_PRIVATE_KEY_FILE = tmp_path / "unused.pem"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=")

    settings.VAPID_PRIVATE_KEY = pem.decode()
    assert vapid_public_key() == expected.decode()
    settings.VAPID_PRIVATE_KEY = raw.decode()
    assert vapid_public_key() == expected.decode()
    assert not settings.VAPID_PRIVATE_KEY_FILE.exists()


def test_an_endpoint_the_outbound_check_refuses_is_not_sent_to(push_receiver: PushReceiver, settings: Settings) -> None:
    settings.OUTBOUND_ALLOWED_PRIVATE = []  # stored while allowed (or DNS changed since): checked again now

    result = send_push(push_receiver.subscription, PAYLOAD)

    assert result == PushResult(
        delivered=False,
        reason=(
            "refused endpoint: the address must be an https URL "
            "(http:// only to a host approved on the private network)"
        ),
    )
    assert push_receiver.requests == []


def test_a_loopback_https_endpoint_is_refused_at_send_time(push_receiver: PushReceiver, settings: Settings) -> None:
    settings.OUTBOUND_ALLOWED_PRIVATE = []
    subscription = {**push_receiver.subscription, "endpoint": "https://[::ffff:127.0.0.1]:1/push/abc"}

    result = send_push(subscription, PAYLOAD)

    assert result.delivered is False
    assert result.reason == "refused endpoint: ::ffff:127.0.0.1 is a private, loopback or link-local address"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_push_service_is_not_followed(push_receiver: PushReceiver, status: int) -> None:
    with RecordingServer(status=201).serve() as elsewhere:
        push_receiver.status = status
        push_receiver.response_headers = {"Location": f"{elsewhere.url}/internal"}

        result = send_push(push_receiver.subscription, PAYLOAD)

        assert (result.delivered, result.gone, result.status) == (False, False, status)
        assert len(push_receiver.requests) == 1
        assert elsewhere.requests == []
