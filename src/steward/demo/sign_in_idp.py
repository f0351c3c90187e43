"""A real OpenID Connect identity provider on loopback: the stand-in for a school's Microsoft 365 or
Google tenant, for the demo and for the tests of Steward's "Sign in with ..." buttons.

It speaks real HTTP (the standard library's threaded server) and signs real RS256 JWTs (joserfc):
a discovery document, a JWKS, an authorisation endpoint (a page where the person types who they are
and says whether they used a second factor) and a token endpoint that checks the client's secret,
the redirect URI and the PKCE verifier (S256) before it hands over an ID token with the request's
nonce. Nothing of Steward's is imported, so Steward's relying party is tested against what a
provider sends, not against our own reading of it.

    idp = start(client_id="steward", client_secret="s3cret")
    ... issuer idp.issuer ...
    idp.overrides = {"amr": ["pwd", "mfa"]}   # what the next ID tokens say differently
    idp.sign_with_stranger_key = True         # the next ID tokens are signed with a key not in the JWKS
    idp.stop()

`overrides` changes any claim of the tokens issued from then on (`email_verified`, `aud`, `nonce`,
`exp`, ...); a claim set to None is left out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CODE_SECONDS = 60
TOKEN_SECONDS = 300


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    email: str
    mfa: bool
    issued_at: float


@dataclass
class SignInIdp:
    """A running provider. `issuer` is what Steward's configuration names."""

    issuer: str
    client_id: str
    client_secret: str
    name: str
    default_email: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    sign_with_stranger_key: bool = False
    tokens_issued: int = 0
    _key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))
    _stranger: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "idp-1"}))
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "amr", "preferred_username"],
        }

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self._key]).as_dict(private=False))

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": hashlib.sha256(grant.email.encode()).hexdigest()[:32],
            "aud": grant.client_id,
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "nonce": grant.nonce,
            "email": grant.email,
            "email_verified": True,
            "preferred_username": grant.email,
            "name": grant.email.partition("@")[0].replace(".", " ").title(),
            "amr": ["pwd", "mfa"] if grant.mfa else ["pwd"],
        }
        claims.update(self.overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self._stranger if self.sign_with_stranger_key else self._key
        self.tokens_issued += 1
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


class _Handler(BaseHTTPRequestHandler):
    idp: SignInIdp

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/.well-known/openid-configuration":
            self._json(200, self.idp.discovery())
        elif parts.path == "/jwks":
            self._json(200, self.idp.jwks())
        elif parts.path == "/authorize":
            self._authorize_page(query)
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        path = urlsplit(self.path).path
        if path == "/authorize":
            self._authorize(form)
        elif path == "/token":
            self._token(form)
        else:
            self._json(404, {"error": "not_found"})

    def _authorize_page(self, query: dict[str, str]) -> None:
        problem = self._request_problem(query)
        if problem:
            self._page(400, "Sign-in request refused", f"<p>{html.escape(problem)}</p>")
            return
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in query.items()
            if k in {"client_id", "redirect_uri", "state", "nonce", "code_challenge"}
        )
        body = (
            f"<p>Signing in to {html.escape(query['client_id'])}.</p>"
            '<form method="post" action="/authorize">'
            f"{hidden}"
            '<p><label for="email">Email address</label><br>'
            f'<input id="email" name="email" type="email" value="{html.escape(self.idp.default_email)}"></p>'
            '<p><input id="mfa" name="mfa" type="checkbox" value="yes">'
            ' <label for="mfa">I also approved the sign-in on my phone (a second factor)</label></p>'
            '<p><button type="submit">Sign in</button></p></form>'
        )
        self._page(200, f"Sign in to {self.idp.name}", body)

    def _request_problem(self, query: dict[str, str]) -> str:
        if query.get("client_id") != self.idp.client_id:
            return "Unknown client_id"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in query.get("scope", "").split():
            return "scope must include openid"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "PKCE with S256 is required"
        if not query.get("redirect_uri") or not query.get("state") or not query.get("nonce"):
            return "redirect_uri, state and nonce are required"
        return ""

    def _authorize(self, form: dict[str, str]) -> None:
        code = secrets.token_urlsafe(24)
        with self.idp._lock:
            self.idp._grants[code] = _Grant(
                client_id=form.get("client_id", ""),
                redirect_uri=form.get("redirect_uri", ""),
                code_challenge=form.get("code_challenge", ""),
                nonce=form.get("nonce", ""),
                email=form.get("email", ""),
                mfa=form.get("mfa") == "yes",
                issued_at=time.time(),
            )
        target = form.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": form.get("state", "")})
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _token(self, form: dict[str, str]) -> None:
        client_id, secret = self._client_credentials(form)
        if client_id != self.idp.client_id or not secrets.compare_digest(secret, self.idp.client_secret):
            self._json(401, {"error": "invalid_client"})
            return
        with self.idp._lock:
            grant = self.idp._grants.pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or grant.client_id != client_id
            or grant.redirect_uri != form.get("redirect_uri")
            or time.time() - grant.issued_at > CODE_SECONDS
            or not secrets.compare_digest(challenge, grant.code_challenge)
        ):
            self._json(400, {"error": "invalid_grant"})
            return
        self._json(
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",  # the OAuth token type, not a password  # nosec B105
                "expires_in": TOKEN_SECONDS,
                "scope": "openid email profile",
                "id_token": self.idp.id_token(grant),
            },
        )

    def _client_credentials(self, form: dict[str, str]) -> tuple[str, str]:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        return form.get("client_id", ""), form.get("client_secret", "")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, status: int, title: str, body: str) -> None:
        data = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    client_id: str,
    client_secret: str,
    name: str = "Demo school (Microsoft 365)",
    default_email: str = "",
) -> SignInIdp:
    """Serve a provider on `host:port` (0: any free port) in a daemon thread."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    idp = SignInIdp(
        issuer=f"http://{host}:{server.server_address[1]}",
        client_id=client_id,
        client_secret=client_secret,
        name=name,
        default_email=default_email,
    )
    handler.idp = idp  # type: ignore[attr-defined]
    idp._server = server
    idp._thread = threading.Thread(target=server.serve_forever, name="sign-in-idp", daemon=True)
    idp._thread.start()
    return idp


def main() -> None:
    parser = argparse.ArgumentParser(description="A stand-in OpenID Connect provider on loopback")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--client-id", default="steward-demo")
    parser.add_argument("--client-secret", default=secrets.token_urlsafe(24))
    args = parser.parse_args()
    idp = start(port=args.port, client_id=args.client_id, client_secret=args.client_secret)
    print(f"issuer {idp.issuer}, client id {idp.client_id}, client secret {idp.client_secret}")  # noqa: T201
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        idp.stop()


if __name__ == "__main__":
    main()
