"""The demo's account provisioning: Riverside Academy sends its staff and pupils to a SCIM directory.

The directory is scim2-server, started by `steward demo` on loopback (a thread of the demo command,
for as long as it serves) and standing in for Microsoft Entra ID's SCIM endpoint. It keeps its
accounts in memory, so each start begins with an empty directory: `connect` points the target at
the new address and token, forgets what Steward wrote to the previous (gone) directory, and runs a
first sync through the real services, so the back office shows a real plan and run.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from steward.audit.actor import Actor
from steward.demo import scim_server
from steward.provisioning import services
from steward.provisioning.models import InitialPassword, ProvisionedAccount, ProvisioningTarget, ReservedName
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope

SCHOOL_URN = 881002
TARGET = "entra"
ACTOR = Actor.system("Riverside Academy admin (demo)")


def create_target(school: Organisation) -> ProvisioningTarget:
    """The school's target under its approved Microsoft 365 flow (done once, when the demo loads)."""
    with tenant_scope([school.id]):
        flow = DataFlow.objects.get(recipient__code="microsoft-365", status=DataFlow.Status.APPROVED)
        target = ProvisioningTarget(
            school=school,
            flow=flow,
            name=TARGET,
            kind=ProvisioningTarget.Kind.SCIM,
            endpoint="http://127.0.0.1:1/scim/v2",  # replaced by `connect` at every start
            domain="riverside.example",
            year_groups=["7", "8", "9", "10", "11"],
        )
    return services.target_save(target=target, credential=secrets.token_urlsafe(24), actor=ACTOR)


def start_directory() -> tuple[scim_server.ScimServer, str]:
    """A fresh SCIM directory on loopback (STEWARD_DEMO_SCIM_BIND=host:port, default a free port),
    and the bearer token it accepts."""
    host, _, port = os.environ.get("STEWARD_DEMO_SCIM_BIND", "127.0.0.1:0").rpartition(":")
    token = secrets.token_urlsafe(24)
    return scim_server.start(host or "127.0.0.1", int(port or 0), token=token), token


def connect(server: scim_server.ScimServer, token: str) -> dict[str, Any]:
    """Point the demo target at this start's directory and run a first sync; what to print."""
    school = Organisation.objects.get(urn=SCHOOL_URN)
    with tenant_scope([school.id]):
        target = ProvisioningTarget.objects.select_related("flow__recipient").get(name=TARGET)
        # The previous directory went with the previous demo process: nothing Steward wrote there exists.
        InitialPassword.objects.filter(account__target=target).delete()
        ProvisionedAccount.objects.filter(target=target).delete()
        ReservedName.objects.filter(target=target).delete()
        target.endpoint = server.url
    services.target_save(target=target, credential=token, actor=ACTOR)
    run = services.plan_make(target=target, trigger="manual", actor=ACTOR)
    if run.status == "planned":
        run = services.run_apply(run=run, actor=ACTOR)
    return {
        "school": school.name,
        "directory": server.url,
        "target_id": target.pk,
        "status": run.get_status_display(),
        "summary": run.summary,
    }
