"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

The browser gives the portal a subscription (`PushSubscription.toJSON()`: an endpoint at its
vendor's push service and the keys to encrypt for); `send_push` encrypts a small JSON payload
to it and POSTs it there, signed with our VAPID key so the push service knows it is us.
The payload is end-to-end encrypted: the push service sees only ciphertext.

The endpoint is an address a browser (so anyone) gave us: like a webhook it passes
`core.outbound` again before every send (DNS may have changed since it was stored), and no
redirect is followed, since a redirect could point anywhere the check would refuse.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from steward.core.outbound import outbound_refusal

logger = logging.getLogger(__name__)

# RFC 8291 allows 4096 bytes a record; less the aes128gcm header (86), the tag (16) and the
# padding delimiter (1) leaves this much JSON. Summaries are far smaller; a larger payload is a bug.
MAX_PAYLOAD_BYTES = 3993
TIMEOUT_SECONDS = 10
# The push service says the subscription no longer exists: the caller deletes it.
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class PushResult:
    """What happened to one push: the caller deletes the subscription when `gone`."""

    delivered: bool
    gone: bool = False
    status: int | None = None
    reason: str = ""


class _NoRedirectSession(requests.Session):
    """A requests session that never follows a redirect: a 3xx comes back as the answer, which
    pywebpush reports as a failed push (it accepts only 2xx)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


def send_push(subscription: Mapping[str, Any], payload: Mapping[str, Any], *, ttl: int = 3600) -> PushResult:
    """Encrypt `payload` (as JSON) to `subscription` and hand it to its push service.

    Never raises for what the outside world does (refusals, timeouts, unreachable services):
    a notification is best effort, and one parent's dead subscription must not stop the next.
    `ttl` is how long the push service keeps it for a device that is offline.
    """
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(data.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"push payload is {len(data.encode())} bytes; at most {MAX_PAYLOAD_BYTES}")
    if refusal := outbound_refusal(str(subscription.get("endpoint", ""))):
        return PushResult(delivered=False, reason=f"refused endpoint: {refusal}")
    try:
        with _NoRedirectSession() as session:
            response = webpush(
                subscription_info=dict(subscription),
                data=data,
                vapid_private_key=_vapid(),
                vapid_claims={"sub": settings.VAPID_SUBJECT},  # webpush adds aud and exp to this dict
                ttl=ttl,
                timeout=TIMEOUT_SECONDS,
                requests_session=session,
            )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status is None:  # a malformed subscription: pywebpush refused it before sending
            return PushResult(delivered=False, reason=f"invalid subscription: {exc.message}")
        gone = status in GONE_STATUSES
        return PushResult(delivered=False, gone=gone, status=status, reason=f"push service answered {status}")
    except requests.RequestException as exc:
        logger.warning("push to %s failed: %s", _host(subscription), type(exc).__name__)
        return PushResult(delivered=False, reason=f"network: {type(exc).__name__}")
    except (KeyError, TypeError, ValueError) as exc:  # keys missing or not base64url
        return PushResult(delivered=False, reason=f"invalid subscription: {type(exc).__name__}")
    return PushResult(delivered=True, status=response.status_code)


def vapid_public_key() -> str:
    """Our VAPID public key, base64url without padding: the browser's `applicationServerKey`."""
    point = _vapid().public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def _host(subscription: Mapping[str, Any]) -> str:
    """Only the push service's host for logs: the endpoint's path identifies a device."""
    endpoint = str(subscription.get("endpoint", ""))
    return endpoint.split("/")[2] if endpoint.count("/") >= 2 else "?"


def _vapid() -> Any:
    """The py_vapid signer for the configured key (read from settings each call, cached by value)."""
    return _load_vapid(settings.VAPID_PRIVATE_KEY, str(settings.VAPID_PRIVATE_KEY_FILE))


@functools.lru_cache(maxsize=4)
def _load_vapid(configured: str, path: str) -> Any:
    if configured.strip().startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(configured.replace("\\n", "\n").encode(), password=None)
    elif configured:
        key = Vapid.from_string(private_key=configured.strip()).private_key
    else:
        key = _key_from_file(Path(path))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("the VAPID private key must be an EC P-256 key")
    return Vapid(private_key=key)


def _key_from_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the key kept in var/, generating it the first time (0600, like the secret key).

    Written to a temporary file and linked into place, so two processes starting together
    never read half a key, and the one that links second uses the first one's key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"{path} does not hold an EC private key")
    return key
