"""The HTTP under the SCIM connector: scim2-client's request engine over httpx, with the retries.

scim2-client checks SCIM payloads and leaves sending them to an engine; its own engine needs a second
HTTP library (httpx2), so this one is the few lines that put it on httpx, which Steward already uses.
Every request goes through `ScimTransport.request`, so waiting and retrying live in one place:

- 429 (slow down): wait what `Retry-After` asks (seconds or an HTTP date, capped, so a provider
  cannot park a run for a day), through the injected `sleep`, then try again;
- 500/502/503/504 and connections refused or timed out: wait 1, 2, 4 … seconds and try again;
- after `max_retries` retries, or at once for 401/403, the whole directory is unusable now:
  `TargetUnavailable`, which stops the run until it is retried later.

A POST that timed out is retried like any other request: the connector's `create` treats a
conflict with an account carrying the same external id as the account it just created.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections.abc import Callable
from typing import Any

import httpx
from scim2_client.client import BaseSyncSCIMClient

from steward.provisioning.connectors.base import TargetUnavailable

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
CREDENTIALS_REFUSED = frozenset({401, 403})


def retry_after_seconds(value: str | None, *, now: dt.datetime, cap: float) -> float | None:
    """The wait a `Retry-After` header asks for, at most `cap`; None when absent or unreadable.

    RFC 9110 allows a number of seconds or an HTTP date; a date in the past means "now"."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; parsedate leaves "-0000" naive
        when = when.replace(tzinfo=dt.UTC)
    return min(max((when - now).total_seconds(), 0.0), cap)


class ScimTransport(BaseSyncSCIMClient):
    """scim2-client's synchronous client, sending through one httpx client with retries."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        max_retries: int,
        sleep: Callable[[float], None],
        max_wait: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.max_retries = max_retries
        self.sleep = sleep
        self.max_wait = max_wait
        # For headers scim2-client does not return; per thread, as a run sends several requests at once.
        self._local = threading.local()

    def _stays_under_base_url(self, endpoint: str) -> bool:
        """Refuse to follow a URL out of the directory's base (the token must not travel)."""
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        prefix = base.path.rstrip("/")
        same_origin = url.scheme == base.scheme and url.netloc == base.netloc
        return same_origin and (url.path == prefix or url.path.startswith(prefix + "/"))

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    @property
    def last_response(self) -> httpx.Response | None:
        """The answer to this thread's last request."""
        return getattr(self._local, "response", None)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send once, and again while the directory says "later"; raise `TargetUnavailable` when it
        refuses the credentials or stays unavailable after `max_retries` retries."""
        attempt = 0
        while True:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                reason = f"cannot reach the directory at {self.client.base_url} ({type(exc).__name__}: {exc})"
                wait: float | None = None
            else:
                if response.status_code in CREDENTIALS_REFUSED:
                    raise TargetUnavailable(
                        f"credentials refused: the directory answered {response.status_code} to Steward's token"
                    )
                if response.status_code not in RETRIED_STATUSES:
                    self._local.response = response
                    return response
                reason = f"the directory answered {response.status_code} {response.reason_phrase} to {method} {url}"
                wait = retry_after_seconds(
                    response.headers.get("Retry-After"), now=dt.datetime.now(dt.UTC), cap=self.max_wait
                )
            if attempt >= self.max_retries:
                raise TargetUnavailable(f"{reason}, after {attempt + 1} attempts")
            self.sleep(wait if wait is not None else min(float(2**attempt), self.max_wait))
            attempt += 1
