"""The demo's data flows: LA services and suppliers asking for data, schools deciding.

Some approved, one pending, one declined, and one for a recipient outside the UK that cannot be
approved because the register records no transfer safeguard; every recipient has its own client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from steward.audit.actor import Actor
from steward.core.paths import VAR_DIR
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services
from steward.sharing.delivery import delivery_target_set
from steward.sharing.models import DataFlow, DataFlowEvent
from steward.tenancy.models import ApiClient, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import contracted_services
from steward.tenancy.services import api_client_create

# Where the demo's file deliveries land (each recipient's drop folder, one folder per school).
EXPORT_DIR = Path(os.environ.get("STEWARD_DEMO_EXPORT_DIR", VAR_DIR / "demo-exports"))


@dataclass(frozen=True)
class DemoFlow:
    recipient: str
    activity: str
    lawful_basis: str
    categories: tuple[str, ...]
    purpose: str
    outcome: str  # approved | requested | declined | blocked
    frequency: str = DataFlow.Frequency.DAILY
    # Where schools decide differently: {URN: outcome}; a school not named is not asked.
    outcome_at: dict[int, str] | None = None
    # A flow delivered as files: the format its drop folder (under EXPORT_DIR/<recipient>) receives.
    export_format: str = ""

    def outcome_for(self, urn: int | None) -> str | None:
        return self.outcome if self.outcome_at is None else self.outcome_at.get(urn or 0)


FLOWS = (
    DemoFlow(
        "la-attendance",
        "data_exchange",
        "6.1.c",
        ("learner.identity", "learner.enrolment", "learner.attendance"),
        "Monitor attendance and act on persistent and severe absence, as the attendance guidance requires.",
        "approved",
    ),
    DemoFlow(
        "la-cme",
        "data_exchange",
        "6.1.c",
        (
            "learner.identity",
            "learner.contact_details",
            "learner.enrolment",
            "contact.identity",
            "contact.contact_details",
            "contact.relationship",
        ),
        "Identify children missing education and reach their families (Education Act 1996 s.436A).",
        "approved",
        DataFlow.Frequency.WEEKLY,
    ),
    DemoFlow(
        "la-admissions",
        "data_exchange",
        "6.1.e",
        ("learner.identity", "learner.enrolment"),
        "Co-ordinate in-year admissions and transfers between schools.",
        "approved",
        DataFlow.Frequency.ON_DEMAND,
    ),
    DemoFlow(
        "la-youth-justice",
        "data_exchange",
        "6.1.e",
        ("learner.identity", "learner.attendance", "learner.exclusion"),
        "Support young people known to the youth justice service with their education.",
        "requested",
    ),
    DemoFlow(
        "safeguarding-monitor",
        "data_exchange",
        "6.1.e",
        ("learner.identity", "learner.groups"),
        "Filter and monitor pupils' use of school devices.",
        "declined",
    ),
    DemoFlow(
        "overseas-learning-app",
        "data_exchange",
        "6.1.e",
        ("learner.identity", "learner.groups"),
        "Give pupils accounts in a maths practice app.",
        "blocked",
    ),
    DemoFlow(
        "microsoft-365",
        "rostering",
        "6.1.e",
        (
            "learner.identity",
            "learner.enrolment",
            "learner.groups",
            "staff.identity",
            "staff.assignment",
        ),
        "Create Microsoft 365 accounts and class teams for pupils and staff.",
        "approved",
    ),
    # The learning platform: rosters over OneRoster and staff sign-in (OpenID Connect). Riverside
    # Academy approved it; Meadowbank Primary has the request still to decide.
    DemoFlow(
        "learning-app",
        "rostering",
        "6.1.e",
        ("learner.identity", "learner.enrolment", "learner.groups", "staff.identity", "staff.assignment"),
        "Give pupils and teachers accounts and classes in the learning app the school subscribes to, "
        "and let staff sign in to it with their school account.",
        "approved",
        outcome_at={881002: "approved", 881001: "requested"},
        export_format="oneroster-csv",
    ),
)


def load_demo_flows(schools: list[Organisation]) -> list[dict[str, Any]]:
    """Create each school's flows (where its contracts cover the activity) and a client per recipient."""
    for school in schools:
        in_force = contracted_services(school_id=school.id)
        with tenant_scope([school.id]):
            for spec in FLOWS:
                outcome = spec.outcome_for(school.urn)
                if spec.activity in in_force and outcome is not None:
                    _flow(school, spec, outcome)
    clients = []
    for code in sorted({spec.recipient for spec in FLOWS}):
        recipient = Recipient.objects.get(code=code)
        _, client_id, secret = api_client_create(
            name=f"{recipient.name} (demo)", kind=ApiClient.Kind.RECIPIENT, recipient_code=code
        )
        clients.append({"recipient": recipient.name, "code": code, "client_id": client_id, "client_secret": secret})
    return clients


def _flow(school: Organisation, spec: DemoFlow, outcome: str) -> None:
    delivery = DataFlow.Delivery.EXPORT if spec.export_format else DataFlow.Delivery.API
    flow = services.flow_request(
        school=school,
        recipient=Recipient.objects.get(code=spec.recipient),
        activity=ProcessingActivity.objects.get(service=spec.activity),
        purpose=spec.purpose,
        lawful_basis=spec.lawful_basis,
        categories=spec.categories,
        frequency=spec.frequency,
        delivery=delivery,
        actor=Actor.system(f"{Recipient.objects.get(code=spec.recipient).name} (demo request)"),
    )
    if outcome == "approved":
        services.flow_approve(flow=flow, actor=Actor.system("School DPO (demo)"))
        if spec.export_format:
            folder = EXPORT_DIR / spec.recipient / str(school.urn)
            folder.mkdir(parents=True, exist_ok=True)
            delivery_target_set(flow=flow, export_folder=str(folder), export_format=spec.export_format)
    elif outcome == "declined":
        services.flow_decline(
            flow=flow,
            actor=Actor.system("School DPO (demo)"),
            note="Device monitoring is arranged by the trust directly.",
        )
    elif outcome == "blocked":
        try:
            services.flow_approve(flow=flow, actor=Actor.system("School DPO (demo)"))
        except ValidationError as refused:
            DataFlowEvent.objects.create(
                school=school,
                flow=flow,
                status=flow.status,
                actor_label="School DPO (demo)",
                note=f"Approval refused: {'; '.join(refused.messages)}",
            )
