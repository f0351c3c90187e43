"""Talks to Steward: an OAuth 2.0 client-credentials token, then one multipart POST per file.

The only place that knows HTTP. It sorts every answer into one of four kinds, because each
needs a different reaction from the agent:
- accepted (201 applied, 200 already applied): record it, never send it again;
- rejected (400/403/413/422 problem+json): the file itself is wrong, retrying cannot help;
- transient (connection errors, 408/425/429/5xx): wait with exponential backoff and jitter,
  at least as long as Retry-After says, up to `max_attempts`;
- fatal for the run (credentials refused, an answer Steward never gives such as 404):
  every later file would fail the same way, so the run stops and the operator is told.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from steward.agent import VERSION
from steward.agent.config import Retry

log = logging.getLogger("steward.agent")

TOKEN_PATH = "/oauth/token/"  # noqa: S105 - a path, not a password  # nosec B105
BATCHES_PATH = "/api/v1/ingest/batches"
REJECTED_STATUSES = frozenset({400, 403, 413, 422})
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class AgentError(Exception):
    """Base of what the client raises; the message is meant for the operator's log."""


class AuthError(AgentError):
    """Steward refused the credentials or the token: no file can be sent until that is fixed."""


class ServerError(AgentError):
    """An answer Steward's API never gives (e.g. 404): most likely `server` points elsewhere."""


class GaveUp(AgentError):
    """Transient failures on every attempt; the file is left to the next run."""


class Stopped(AgentError):
    """A stop was requested (SIGTERM/SIGINT) while waiting to retry."""


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass(frozen=True)
class UploadResult:
    """Steward's answer to one file. status is "applied" or "rejected" (Steward's batch status)."""

    http_status: int
    status: str
    batch_id: str | None
    attempts: int
    duplicate: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "applied"


def backoff_delay(retry: Retry, attempt: int, rng: random.Random) -> float:
    """The wait after failed attempt `attempt` (1-based): capped exponential, less random jitter.

    Jitter spreads the retries of many schools' agents that failed at the same moment.
    """
    full = min(retry.max, retry.base * 2.0 ** (attempt - 1))
    return full * (1 - retry.jitter * rng.random())


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:300].strip()}
    return body if isinstance(body, dict) else {"detail": str(body)[:300]}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _errors(value: object) -> list[dict[str, Any]]:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class StewardClient:
    """One agent's connection to Steward. Not thread-safe; one per run."""

    def __init__(
        self,
        *,
        server: str,
        client_id: str,
        client_secret: str,
        retry: Retry,
        timeout: float = 120.0,
        ca_file: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy  # nosec B311
        self._credentials = (client_id, client_secret)
        self._token: str | None = None
        self._token_expires = 0.0
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._http = httpx.Client(
            base_url=server,
            timeout=httpx.Timeout(timeout),
            verify=verify,
            headers={"User-Agent": f"steward-agent/{VERSION}"},
        )

    def __enter__(self) -> StewardClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the token ---------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            self._token = self._fetch_token()
        return self._token

    def _fetch_token(self) -> str:
        try:
            response = self._http.post(
                TOKEN_PATH,
                data={"grant_type": "client_credentials", "scope": "ingest"},
                auth=self._credentials,
            )
        except httpx.TransportError as exc:
            raise _Transient(f"token request failed: {type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            body = _body(response)
            token, lifetime = body.get("access_token"), body.get("expires_in", 300)
            if not isinstance(token, str) or not isinstance(lifetime, int | float):
                raise ServerError(f"{TOKEN_PATH} answered 200 without an access token; is 'server' Steward?")
            # Renew a minute (or a tenth of the lifetime, if shorter) before it runs out.
            self._token_expires = time.monotonic() + lifetime - min(60.0, lifetime / 10)
            log.debug("got an access token valid for %ss", lifetime)
            return token
        if self._is_transient(response.status_code):
            raise _Transient(f"token request answered {response.status_code}", self._retry_after(response))
        if response.status_code in (400, 401):
            error = str(_body(response).get("error", "")) or f"HTTP {response.status_code}"
            why = {
                "invalid_client": "check client_id and the client secret (a new secret replaces the old one)",
                "invalid_scope": "this client may not use the 'ingest' scope: is it registered as an MIS agent?",
                "unauthorized_client": "this client may not use the client-credentials grant",
            }.get(error, "check client_id and the client secret")
            raise AuthError(f"Steward refused the client credentials ({error}): {why}")
        raise ServerError(f"{TOKEN_PATH} answered {response.status_code}: is 'server' the Steward address?")

    # -- a batch -----------------------------------------------------------------------------

    def upload(self, *, name: str, data: bytes, sha256: str, format: str, mode: str) -> UploadResult:
        """Send one file; retry what is transient; return Steward's verdict (accepted or rejected).

        Raises AuthError/ServerError (stop the run), GaveUp (try again next run) or Stopped.
        """
        attempt, renewed = 0, False
        while True:
            attempt += 1
            try:
                response = self._post(name=name, data=data, sha256=sha256, format=format, mode=mode)
            except _Transient as failure:
                if attempt >= self.retry.max_attempts:
                    raise GaveUp(f"{failure.reason}; gave up after {attempt} attempts") from None
                delay = self._delay(attempt, failure.retry_after)
                log.warning(
                    "%s: %s (attempt %d of %d); retrying in %.2fs",
                    name,
                    failure.reason,
                    attempt,
                    self.retry.max_attempts,
                    delay,
                )
                self.sleep(delay)
                continue
            if response.status_code == 401:
                if renewed:
                    raise AuthError("Steward refused a fresh access token for the ingest API: is this an MIS agent?")
                log.info("the access token was refused; getting a new one")
                self._token, renewed, attempt = None, True, attempt - 1
                continue
            return self._result(response, attempt)

    def _post(self, *, name: str, data: bytes, sha256: str, format: str, mode: str) -> httpx.Response:
        token = self._access_token()
        try:
            response = self._http.post(
                BATCHES_PATH,
                files={"file": (name, data, "application/octet-stream")},
                data={"format": format, "mode": mode},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": sha256},
            )
        except httpx.TransportError as exc:
            raise _Transient(f"upload failed: {type(exc).__name__}: {exc}") from None
        if self._is_transient(response.status_code):
            raise _Transient(f"Steward answered {response.status_code}", self._retry_after(response))
        return response

    def _result(self, response: httpx.Response, attempts: int) -> UploadResult:
        body = _body(response)
        code = response.status_code
        if code in (200, 201):
            batch_id = body.get("id")
            return UploadResult(
                http_status=code,
                status=str(body.get("status", "applied")),
                batch_id=str(batch_id) if batch_id else None,
                attempts=attempts,
                duplicate=bool(body.get("duplicate", code == 200)),
                counts=_dict(body.get("counts")),
                errors=_errors(body.get("errors")),
            )
        if code in REJECTED_STATUSES:
            detail = body.get("detail") or body.get("title") or f"HTTP {code}"
            batch_id = body.get("batch_id")
            return UploadResult(
                http_status=code,
                status="rejected",
                batch_id=str(batch_id) if batch_id else None,
                attempts=attempts,
                errors=_errors(body.get("errors")),
                detail=detail if isinstance(detail, str) else str(detail)[:300],
            )
        raise ServerError(f"{BATCHES_PATH} answered {code}: is 'server' the Steward address?")

    # -- waiting -----------------------------------------------------------------------------

    @staticmethod
    def _is_transient(code: int) -> bool:
        return code in TRANSIENT_STATUSES or code >= 500

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Backoff, at least Retry-After when the server gave one, never more than backoff_max."""
        delay = backoff_delay(self.retry, attempt, self.rng)
        if retry_after is not None:
            if retry_after > self.retry.max:
                log.warning(
                    "Steward asked to wait %.0fs; waiting backoff_max (%.0fs) instead", retry_after, self.retry.max
                )
            delay = max(delay, retry_after)
        return min(delay, self.retry.max)
