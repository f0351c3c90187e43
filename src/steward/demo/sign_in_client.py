"""A third-party app that signs staff in with Steward: the demo's OpenID Connect relying party.

The demo registers the "Maths learning app" as a sign-in app of the `learning-app` recipient and
runs this small app on loopback beside Steward, so a person can try the whole journey in a browser:
"Sign in with Steward" → Steward's sign-in (password and code) → the consent screen → back here,
where the page shows exactly what the app received. It is what a supplier's engineer writes, with
nothing of Steward's imported: discovery, the authorisation code flow with PKCE (S256), `state`
and `nonce`, the code exchanged with the client secret, the ID token's signature checked against
the published JWKS (jwcrypto, which django-oauth-toolkit already brings) with its issuer, audience,
expiry and nonce, then userinfo.

    app = start("127.0.0.1", 8001, issuer="http://127.0.0.1:8000/oauth", client_id=..., client_secret=...)
    ... app.url ...
    app.stop()
"""

from __future__ import annotations

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
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from jwcrypto import jwk, jwt

NAME = "Maths learning app"
CALLBACK = "/callback"


@dataclass
class Relying:
    """The app's registration at Steward and the sign-ins under way (state → verifier and nonce)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def discovery(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def begin(self) -> str:
        """The authorisation URL for a new sign-in, its state, nonce and PKCE verifier kept."""
        state, nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        with self.lock:
            self.pending[state] = (verifier, nonce)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.discovery()['authorization_endpoint']}?{urlencode(query)}"

    def finish(self, query: dict[str, str]) -> dict[str, Any]:
        """Exchange the code, check the ID token and read userinfo; raises ValueError with the reason."""
        with self.lock:
            kept = self.pending.pop(query.get("state", ""), None)
        if kept is None:
            raise ValueError("this answer does not belong to a sign-in this app started (unknown state)")
        if "error" in query:
            raise ValueError(f"Steward answered {query['error']}: {query.get('error_description', '')}")
        verifier, nonce = kept
        config = self.discovery()
        tokens = httpx.post(
            config["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query.get("code", ""),
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        if tokens.status_code != 200:
            raise ValueError(f"the token endpoint refused the code: {tokens.text}")
        keys = jwk.JWKSet.from_json(httpx.get(config["jwks_uri"], timeout=10).text)
        claims = json.loads(jwt.JWT(jwt=tokens.json()["id_token"], key=keys, algs=["RS256"]).claims)
        if claims.get("iss") != config["issuer"] or claims.get("aud") not in (self.client_id, [self.client_id]):
            raise ValueError("the ID token was not issued by Steward for this app")
        if claims.get("nonce") != nonce or float(claims.get("exp", 0)) < time.time():
            raise ValueError("the ID token is for another sign-in or has expired")
        bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        userinfo = httpx.get(config["userinfo_endpoint"], headers=bearer, timeout=10).json()
        return {"id_token": claims, "userinfo": userinfo}


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} – {NAME}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.5}"
        "a.button{background:#00703c;color:#fff;padding:.5em 1em;text-decoration:none}"
        "td,th{text-align:left;padding:.2em 1em .2em 0;vertical-align:top}</style></head>"
        f"<body><p><strong>{NAME}</strong> (a third-party app in the Steward demo)</p>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    ).encode()


def _handler(app: Relying) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            try:
                self._answer()
            except httpx.HTTPError as down:
                body = f"<p>Steward did not answer ({html.escape(str(down))}). Try again in a moment.</p>"
                self._send(502, _page("Sign-in is not available", body))

        def _answer(self) -> None:
            where = urlsplit(self.path)
            if where.path == "/":
                self._send(
                    200,
                    _page(
                        "Welcome",
                        "<p>Staff sign in with their school account.</p>"
                        "<p><a class='button' href='/login'>Sign in with Steward</a></p>",
                    ),
                )
            elif where.path == "/login":
                self.send_response(302)
                self.send_header("Location", app.begin())
                self.end_headers()
            elif where.path == CALLBACK:
                query = {k: v[0] for k, v in parse_qs(where.query).items()}
                try:
                    got = app.finish(query)
                except ValueError as refused:
                    body = f"<p>{html.escape(str(refused))}</p><p><a href='/login'>Try again</a></p>"
                    self._send(400, _page("You are not signed in", body))
                    return
                rows = "".join(
                    f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                    for k, v in sorted(got["userinfo"].items())
                )
                body = (
                    f"<p>Signed in. This is everything Steward released to this app (userinfo):</p>"
                    f"<table>{rows}</table><p><a href='/'>Start again</a></p>"
                )
                self._send(200, _page(f"Hello {got['userinfo'].get('given_name', '')}".strip(), body))
            else:
                self._send(404, _page("Page not found", ""))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            return

    return Handler


@dataclass
class SignInClient:
    """The running app: `url` is its home page."""

    url: str
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start(host: str, port: int, *, issuer: str, client_id: str, client_secret: str) -> SignInClient:
    """Serve the app on host:port (it must be the address its redirect URI was registered with)."""
    app = Relying(issuer.rstrip("/"), client_id, client_secret, f"http://{host}:{port}{CALLBACK}")
    server = ThreadingHTTPServer((host, port), _handler(app))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-sign-in-app", daemon=True)
    thread.start()
    return SignInClient(f"http://{host}:{server.server_address[1]}", server, thread)
