"""A school with an approved provisioning flow and a target, for the provisioning tests."""

from __future__ import annotations

from typing import Any

from steward.audit.actor import Actor
from steward.core.sealed import seal
from steward.provisioning.models import ProvisioningTarget
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope

ROSTERING = [
    "learner.identity",
    "learner.enrolment",
    "learner.groups",
    "staff.identity",
    "staff.assignment",
    "staff.work_contact",
]


def approved_rostering_flow(
    school: Organisation, recipient: str = "microsoft-365", categories: list[str] | None = None
) -> DataFlow:
    actor = Actor.system("test")
    with tenant_scope([school.id]):
        flow = sharing.flow_request(
            school=school,
            recipient=Recipient.objects.get(code=recipient),
            activity=ProcessingActivity.objects.get(service="rostering"),
            purpose="Accounts for staff and pupils",
            lawful_basis="6.1.e",
            categories=categories or ROSTERING,
            actor=actor,
        )
        return sharing.flow_approve(flow=flow, actor=actor)


def make_target(school: Organisation, *, endpoint: str, token: str = "t0ken", **settings: Any) -> ProvisioningTarget:  # noqa: S107
    flow = settings.pop("flow", None) or approved_rostering_flow(school)
    values: dict[str, Any] = {
        "name": "entra",
        "kind": ProvisioningTarget.Kind.SCIM,
        "domain": "school.example",
        "brake_percent": 100,
        **settings,
    }
    with tenant_scope([school.id]):
        return ProvisioningTarget.objects.create(
            school=school, flow=flow, endpoint=endpoint, credential=seal(token), **values
        )
