"""A thin WSGI layer in front of the real SCIM server that behaves as real providers sometimes do.

It is a stand-in for a provider's behaviour, not a mock of Steward's code: every request that it
does not answer itself goes on, unchanged, to scim2-server. Each switch is a plain attribute a test
sets; `requests` records what arrived (method, path and query, If-Match, JSON body), so a test can
assert what the connector actually sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Sent:
    """One request as it arrived."""

    method: str
    path: str
    if_match: str | None
    body: Any


@dataclass
class Faults:
    """The switches; `throttle`/`unavailable` count down, one answer per request."""

    throttle: int = 0  # answer 429 this many times
    retry_after: str | None = "1"
    unavailable: int = 0  # answer 503 this many times
    refuse_credentials: bool = False  # answer 403 to everything
    stringify_booleans: bool = False  # "active": "False", as some providers answer
    refuse_patch: bool = False  # advertise PATCH, answer 501 to it
    demand_capitalised_ops: bool = False  # refuse "replace", take "Replace" (as older providers)
    reject_user_names: dict[str, str] = field(default_factory=dict)  # userName -> the detail of a 400
    delay: float = 0.0  # seconds before answering (for timeouts)
    requests: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, method: str) -> list[Sent]:
        return [r for r in self.requests if r.method == method]

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            return self._serve(app, environ, start_response)

        return middleware

    def _serve(self, app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = environ.get("QUERY_STRING", "")
        path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        with self._lock:
            self.requests.append(Sent(method, path, environ.get("HTTP_IF_MATCH"), body))
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                headers = [("Retry-After", self.retry_after)] if self.retry_after is not None else []
                return _error(start_response, 429, "Too many requests", headers=headers)
            if self.unavailable > 0:
                self.unavailable -= 1
                return _error(start_response, 503, "Service unavailable")
        if self.refuse_credentials:
            return _error(start_response, 403, "Forbidden")
        if self.refuse_patch and method == "PATCH":
            return _error(start_response, 501, "PATCH is not implemented")
        if method == "PATCH" and self.demand_capitalised_ops and isinstance(body, dict):
            ops = [op.get("op") for op in body.get("Operations", [])]
            if any(op != op.capitalize() for op in ops):
                return _error(start_response, 400, "op must be Add, Replace or Remove", scim_type="invalidSyntax")
            forwarded = json.loads(raw)
            for op in forwarded["Operations"]:
                op["op"] = op["op"].lower()  # what the server behind understands
            raw = json.dumps(forwarded).encode()
        if method == "POST" and isinstance(body, dict) and body.get("userName") in self.reject_user_names:
            detail = self.reject_user_names[body["userName"]]
            return _error(start_response, 400, detail, scim_type="invalidValue")
        environ["wsgi.input"] = _Body(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        if not self.stringify_booleans:
            return app(environ, start_response)
        return self._stringified(app, environ, start_response)

    def _stringified(
        self, app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        raw = b"".join(app(environ, capture))
        if raw:
            raw = json.dumps(_strings_for_booleans(json.loads(raw))).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(raw)))])
        return [raw]


class _Body:
    """The request body, readable again after this layer read it."""

    def __init__(self, raw: bytes) -> None:
        self._raw, self._at = raw, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._raw) if size is None or size < 0 else self._at + size
        chunk, self._at = self._raw[self._at : end], min(end, len(self._raw))
        return chunk


def _strings_for_booleans(value: Any) -> Any:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return {k: _strings_for_booleans(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings_for_booleans(v) for v in value]
    return value


def _error(
    start_response: StartResponse,
    status: int,
    detail: str,
    *,
    scim_type: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    error: dict[str, Any] = {"schemas": [SCIM_ERROR], "status": str(status), "detail": detail}
    if scim_type:
        error["scimType"] = scim_type
    raw = json.dumps(error).encode()
    phrases = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 501: "Not Implemented"}
    start_response(
        f"{status} {phrases.get(status, 'Service Unavailable')}",
        [("Content-Type", "application/scim+json"), ("Content-Length", str(len(raw))), *(headers or [])],
    )
    return [raw]
