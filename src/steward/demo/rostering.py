"""The demo's learning platform: OneRoster for Riverside Academy's roster and staff sign-in.

The `learning-app` recipient ("Maths learning app") has a rostering flow approved by Riverside
Academy and still pending at Meadowbank Primary (`demo/flows.py`), delivered nightly as a OneRoster
CSV zip to a drop folder under `var/demo-exports/learning-app/` and read over the REST binding with
its client credentials. Here it is also registered as a
sign-in app, and a member of Riverside's staff gets a Steward account: the School Business Manager
in the school's MIS, so that Steward finds their staff record by email, as it does for any member of
staff. `steward demo` then runs the app itself (`demo/sign_in_client.py`) on loopback beside Steward
(STEWARD_DEMO_APP_BIND, default the demo's port + 1), where a person can try the sign-in journey.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from oauth2_provider.models import get_application_model

from steward.audit.actor import Actor
from steward.demo import sign_in_client
from steward.mis.models import Staff, StaffAssignment
from steward.register.models import Recipient
from steward.rostering.models import SignInApp
from steward.rostering.services import sign_in_app_register
from steward.sharing.delivery import deliver_flow
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope

SCHOOL_URN = 881002
PENDING_URN = 881001
RECIPIENT = "learning-app"
STAFF_ROLE = "School Business Manager"


def app_address(base_url: str) -> tuple[str, int]:
    """Where the demo app listens: STEWARD_DEMO_APP_BIND (host:port), else beside Steward on port + 1."""
    if bind := os.environ.get("STEWARD_DEMO_APP_BIND"):
        host, _, port = bind.rpartition(":")
        return host or "127.0.0.1", int(port)
    served = urlsplit(base_url)
    return "127.0.0.1", (served.port or 80) + 1


def register_app(base_url: str) -> dict[str, Any]:
    """Register the app for sign-in (once) and pick the member of staff who will try it."""
    host, port = app_address(base_url)
    _, client_id, secret = sign_in_app_register(
        recipient=Recipient.objects.get(code=RECIPIENT),
        name=sign_in_client.NAME,
        redirect_uris=[f"http://{host}:{port}{sign_in_client.CALLBACK}"],
        confidential=True,
        actor=Actor.system("Demo County ICT Service (demo)"),
    )
    school = Organisation.objects.get(urn=SCHOOL_URN)
    with tenant_scope([school.id]):
        manager = StaffAssignment.objects.filter(role=STAFF_ROLE).values_list("staff_source_id", flat=True).first()
        staff = Staff.objects.get(source_id=manager)
    return {
        "name": sign_in_client.NAME,
        "client_id": client_id,
        "client_secret": secret,
        "school": school.name,
        "pending_at": Organisation.objects.get(urn=PENDING_URN).name,
        "staff": {"name": f"{staff.forename} {staff.surname}", "email": staff.email, "role": Role.SCHOOL_ADMIN},
    }


def deliver_roster() -> dict[str, str]:
    """Run the learning app's scheduled OneRoster CSV delivery once, as the scheduler does nightly,
    so its drop folder already holds a zip; where it went and what happened."""
    school = Organisation.objects.get(urn=SCHOOL_URN)
    with tenant_scope([school.id]):
        flow = DataFlow.objects.get(recipient__code=RECIPIENT, status=DataFlow.Status.APPROVED)
    attempt = deliver_flow(flow_id=flow.pk)
    return {
        "folder": attempt.target if attempt else "",
        "status": attempt.status if attempt else "not delivered",
        "records": str(attempt.record_count if attempt else 0),
    }


def start_app(base_url: str, sign_in: dict[str, Any]) -> sign_in_client.SignInClient | None:
    """Run the app for as long as the demo serves; None (and the demo goes on) if its port is taken.

    The registered redirect URI follows the app's address, which moves with the demo's `--bind`."""
    host, port = app_address(base_url)
    callback = f"http://{host}:{port}{sign_in_client.CALLBACK}"
    app = SignInApp.objects.select_related("application").get(application__client_id=sign_in["client_id"])
    if app.application.redirect_uris != callback:
        get_application_model().objects.filter(pk=app.application.pk).update(redirect_uris=callback)
    try:
        return sign_in_client.start(
            host,
            port,
            issuer=f"{base_url}/oauth",
            client_id=sign_in["client_id"],
            client_secret=sign_in["client_secret"],
        )
    except OSError:
        return None
