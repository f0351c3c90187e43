"""Generated privacy notices say only what the runtime enforces."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services
from steward.sharing.models import DataFlow
from steward.tenancy.models import DataProtectionContact, Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Notice Primary", services_=("hosted_mis", "data_exchange"))
    with tenant_scope([school.id]):
        DataProtectionContact.objects.create(school=school, kind="dpo", name="Dee Protect", email="dpo@np.invalid")
    exchange = ProcessingActivity.objects.get(service="data_exchange")
    for code, outcome in (
        ("la-attendance", "approved"),
        ("la-youth-justice", "requested"),
        ("safeguarding-monitor", "declined"),
    ):
        with tenant_scope([school.id]):
            flow = services.flow_request(
                school=school,
                recipient=Recipient.objects.get(code=code),
                activity=exchange,
                purpose=f"Purpose of {code}",
                lawful_basis="6.1.e",
                categories=["learner.identity"],
                actor_label="recipient",
            )
            if outcome == "approved":
                services.flow_approve(flow=flow, actor_label="DPO")
            elif outcome == "declined":
                services.flow_decline(flow=flow, actor_label="DPO")
    return school


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_index_lists_only_the_services_in_force(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/").content.decode())
    assert "Hosted MIS data" in page and "LA data exchange" in page
    assert "Parent portal" not in page
    assert client.get(f"/privacy/{school.urn}/parent_portal/").status_code == 404
    assert client.get("/privacy/999999999/").status_code == 404


def test_recipients_are_those_with_an_approved_flow_and_no_others(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/data_exchange/").content.decode())
    assert Recipient.objects.get(code="la-attendance").name in page
    assert "Purpose of la-attendance" in page
    assert "Purpose of la-youth-justice" not in page
    assert "Purpose of safeguarding-monitor" not in page
    names = set(Recipient.objects.values_list("name", flat=True))
    with tenant_scope([school.id]):
        approved = set(DataFlow.objects.filter(status="approved").values_list("recipient__name", flat=True))
    assert {n for n in names if n in page} == approved


def test_the_notice_names_controller_processor_basis_retention_and_rights(client: Client, school: Organisation) -> None:
    page = _text(client.get(f"/privacy/{school.urn}/hosted_mis/").content.decode())
    assert "Notice Primary is the data controller" in page
    assert "Test ICT Service processes the information" in page
    assert "Dee Protect" in page
    assert "Art. 6(1)(e) public task" in page
    assert "Art. 9(2)(g) substantial public interest" in page
    assert "days after the school's contract ends" in page
    assert "Information Commissioner" in page
    assert "None: the information stays in the UK." in page


def test_a_suspended_flow_leaves_the_notice_at_once(client: Client, school: Organisation) -> None:
    with tenant_scope([school.id]):
        services.flow_suspend(flow=DataFlow.objects.get(status="approved"), actor_label="DPO")
    page = _text(client.get(f"/privacy/{school.urn}/data_exchange/").content.decode())
    assert "Purpose of la-attendance" not in page
    assert "Nobody outside the school and its ICT service receives this information." in page
