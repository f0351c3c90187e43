"""Fixtures for notification delivery: a real SMTP server, a push service and GOV.UK Notify.

Each is a real server on 127.0.0.1 in a thread of the test process, standing in for the outside
world (the house rules allow fakes only there), so the code under test speaks the real protocol.
They are imported by tests/conftest.py, so every test directory (the portal's too) can use them:

- `smtp_sink`: Django sends over SMTP to it; `.messages` are the parsed emails with their
  envelope. A `server_url` subprocess sends to it too (its env carries STEWARD_SMTP_HOST/PORT).
- `push_receiver`: a push service and a fresh browser subscription whose endpoint points at it;
  `.payload()` decrypts what was pushed. Set `.status = 410` to play a gone subscription, or
  `.status = 307` with `.response_headers["Location"]` to play one that redirects.
- `vapid_key`: a VAPID private key in a temporary file for this test; yields the public key.
- `notify_api`: GOV.UK Notify's API; Django's EMAIL_BACKEND is switched to NotifyEmailBackend.
"""

from __future__ import annotations

import base64
import email.message
import email.parser
import email.policy
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_django.fixtures import Settings as SettingsWrapper

# --- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def body(self) -> str:
        """The plain-text body, decoded (Django may send it quoted-printable or base64), with the
        CRLF line ends of SMTP turned back into the newlines that were sent."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        content = part.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")


class SmtpSink:
    """What the SMTP server received, in order. Shared by the session; emptied per test."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()

    @property
    def env(self) -> dict[str, str]:
        """Environment for a separate Steward process to send here."""
        return {"STEWARD_SMTP_HOST": self.host, "STEWARD_SMTP_PORT": str(self.port)}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """At least `count` messages; for senders in another process or thread."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
            time.sleep(0.05)
        return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(content)
        assert isinstance(parsed, email.message.EmailMessage)
        received = ReceivedMail(mail_from=str(envelope.mail_from), rcpt_tos=list(envelope.rcpt_tos), message=parsed)
        with self._lock:
            self.messages.append(received)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def smtp_sink_server() -> Iterator[SmtpSink]:
    """The session's SMTP server; `server_url` points its subprocess here. Use `smtp_sink` in tests."""
    sink = SmtpSink("127.0.0.1", _free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def smtp_sink(smtp_sink_server: SmtpSink, settings: SettingsWrapper) -> SmtpSink:
    """An empty SMTP sink, with Django's EMAIL_BACKEND sending to it over SMTP for this test."""
    smtp_sink_server.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_sink_server.host
    settings.EMAIL_PORT = smtp_sink_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    return smtp_sink_server


# --- HTTP servers standing in for a push service and GOV.UK Notify


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class RecordingServer:
    """A loopback HTTP server that records each request and answers `status` with `response_body`."""

    status: int = 201
    response_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def serve(self) -> Iterator[RecordingServer]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorder.requests.append(RecordedRequest("POST", self.path, headers, body))
                self.send_response(recorder.status)
                for name, value in recorder.response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(recorder.response_body)))
                self.end_headers()
                self.wfile.write(recorder.response_body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


# --- Web Push


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def vapid_key(settings: SettingsWrapper, tmp_path: Path) -> str:
    """A VAPID key generated for this test into a temporary file; yields its public key (base64url)."""
    from steward.notifications.push import vapid_public_key

    settings.VAPID_PRIVATE_KEY = ""
    settings.VAPID_PRIVATE_KEY_FILE = tmp_path / "vapid_private.pem"
    return vapid_public_key()


class PushReceiver(RecordingServer):
    """A browser vendor's push service plus one browser's subscription to it."""

    def __init__(self) -> None:
        super().__init__(status=201)
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        self.subscription: dict[str, Any] = {}

    def subscribe(self) -> None:
        """Make `subscription` what `PushSubscription.toJSON()` gives, once the server has its URL."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.response_headers = {"Location": f"{self.url}/message/{uuid.uuid4()}"}
        self.subscription = {
            "endpoint": f"{self.url}/push/{uuid.uuid4()}",
            "expirationTime": None,
            "keys": {"p256dh": _b64url(public), "auth": _b64url(self.auth_secret)},
        }

    def decrypt(self, request: RecordedRequest) -> bytes:
        """Decrypt an aes128gcm body the way the browser would, with the subscription's keys."""
        plain: bytes = http_ece.decrypt(
            request.body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return plain

    def payload(self, index: int = -1) -> Any:
        """The JSON that a push carried (the last one by default)."""
        return json.loads(self.decrypt(self.requests[index]))


@pytest.fixture
def push_receiver(vapid_key: str, settings: SettingsWrapper) -> Iterator[PushReceiver]:
    """A push service on loopback and a subscription to it; answers 201, or `.status` if set.

    Loopback is private, so the processor's allow-list names it for this test (as a deployment
    would name an approved host); without it `send_push` refuses the endpoint."""
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.1"]
    receiver = PushReceiver()
    with receiver.serve():
        receiver.subscribe()
        yield receiver


# --- GOV.UK Notify


class NotifyApi(RecordingServer):
    """GOV.UK Notify's API: a service with one API key and one generic email template."""

    def __init__(self) -> None:
        super().__init__(status=201)
        self.service_id = str(uuid.uuid4())
        self.secret = str(uuid.uuid4())
        self.api_key = f"steward_test-{self.service_id}-{self.secret}"
        self.template_id = str(uuid.uuid4())
        self.response_body = json.dumps(
            {"id": str(uuid.uuid4()), "reference": None, "content": {}, "uri": "", "template": {}}
        ).encode()

    def sent(self) -> list[dict[str, Any]]:
        """The JSON bodies of the email notifications requested, in order."""
        return [json.loads(r.body) for r in self.requests if r.path == "/v2/notifications/email"]


@pytest.fixture
def notify_api(settings: SettingsWrapper) -> Iterator[NotifyApi]:
    """Notify's API on loopback, with Django's EMAIL_BACKEND sending through it for this test."""
    api = NotifyApi()
    with api.serve():
        settings.EMAIL_BACKEND = "steward.notifications.govuk_notify.NotifyEmailBackend"
        settings.NOTIFY_API_KEY = api.api_key
        settings.NOTIFY_TEMPLATE_ID = api.template_id
        settings.NOTIFY_BASE_URL = api.url
        yield api
