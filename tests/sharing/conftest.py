from __future__ import annotations

import io

import pytest

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services
from steward.sharing.models import DataFlow
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Willow Primary", services_=("hosted_mis", "data_exchange"))
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="test"
    )
    return school


@pytest.fixture
def attendance_service() -> Recipient:
    return Recipient.objects.get(code="la-attendance")


@pytest.fixture
def exchange() -> ProcessingActivity:
    return ProcessingActivity.objects.get(service="data_exchange")


def request_flow(
    school: Organisation, recipient: Recipient, activity: ProcessingActivity, **kwargs: object
) -> DataFlow:
    arguments: dict[str, object] = {
        "purpose": "Monitor attendance and act on persistent absence (Working together to improve school attendance)",
        "lawful_basis": "6.1.c",
        "categories": ["learner.identity", "learner.attendance"],
        "actor": Actor.system("LA attendance officer"),
        **kwargs,
    }
    with tenant_scope([school.id]):
        return services.flow_request(school=school, recipient=recipient, activity=activity, **arguments)  # type: ignore[arg-type]
