"""The demo's "Sign in with Demo school (Microsoft 365)": a stand-in identity provider on loopback
(`sign_in_idp`) for the first demo school's staff, and the `STEWARD_SIGN_IN_PROVIDERS` entry the
demo's server is started with, so a person can try signing in with a school's account.

The provider only runs while `steward demo` does, on 127.0.0.1 (a browser on another machine cannot
reach it); it trusts no one's password: whoever types a demo school address on its page is that
person, which is what a stand-in is for.
"""

from __future__ import annotations

import json
import secrets

from steward.demo import sign_in_idp
from steward.demo.loader import SCHOOLS

NAME = "Demo school (Microsoft 365)"
KEY = "demo-school-m365"


def start_provider() -> tuple[sign_in_idp.SignInIdp, str]:
    """Start the stand-in provider; returns it and the JSON for `STEWARD_SIGN_IN_PROVIDERS`."""
    school = SCHOOLS[0]
    domain = f"{school.key}.demo-school.invalid"
    secret = secrets.token_urlsafe(24)
    idp = sign_in_idp.start(
        client_id="steward-demo",
        client_secret=secret,
        name=f"{school.name} (Microsoft 365)",
        default_email=f"admin@{domain}",
    )
    provider = {
        "key": KEY,
        "name": NAME,
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": secret,
        "domains": [domain],
    }
    return idp, json.dumps([provider])
