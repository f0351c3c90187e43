"""Flow rules a DPO would check by hand, enforced: register, categories, Art. 9, transfers, status."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from steward.audit.actor import Actor
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services
from steward.sharing.catalogue import fields_for_categories
from steward.sharing.models import DataFlowEvent
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.sharing.conftest import request_flow

pytestmark = pytest.mark.django_db


def test_fields_follow_the_register_classification() -> None:
    fields = fields_for_categories({"learner.attendance"})
    assert "session-attendance.mark" in fields
    assert "session-attendance.learner_source_id" in fields
    assert not any(f.startswith("learners.") for f in fields)
    assert "learners.ethnicity" in fields_for_categories({"learner.special.ethnicity"})


def test_a_requested_flow_derives_its_fields_and_is_logged(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity
) -> None:
    flow = request_flow(school, attendance_service, exchange)
    assert flow.status == "requested"
    assert set(flow.fields) == fields_for_categories({"learner.identity", "learner.attendance"})
    with tenant_scope([school.id]):
        assert list(DataFlowEvent.objects.values_list("status", "actor_label")) == [
            ("requested", "LA attendance officer")
        ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lawful_basis": "6.1.a"}, "lawful_basis"),
        ({"categories": ["learner.photo"]}, "categories"),
        ({"categories": ["learner.identity"], "fields": ["session-attendance.mark"]}, "fields"),
        ({"purpose": " "}, "purpose"),
    ],
)
def test_a_request_outside_the_register_is_refused(
    school: Organisation,
    attendance_service: Recipient,
    exchange: ProcessingActivity,
    change: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(ValidationError) as caught:
        request_flow(school, attendance_service, exchange, **change)
    assert field in caught.value.message_dict


def test_a_recipient_the_register_does_not_name_cannot_request(
    school: Organisation, exchange: ProcessingActivity
) -> None:
    with pytest.raises(ValidationError, match="does not name"):
        request_flow(school, Recipient.objects.get(code="mis-vendor-desk"), exchange)


def test_special_categories_need_an_article_9_condition(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity
) -> None:
    flow = request_flow(school, attendance_service, exchange, categories=["learner.identity", "learner.special.sen"])
    with tenant_scope([school.id]), pytest.raises(ValidationError, match="Art. 9 condition"):
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
    flow = request_flow(
        school,
        attendance_service,
        exchange,
        categories=["learner.identity", "learner.special.sen"],
        special_condition="9.2.g",
    )
    with tenant_scope([school.id]):
        assert services.flow_approve(flow=flow, actor=Actor.system("DPO")).status == "approved"


def test_a_recipient_outside_the_uk_without_a_safeguard_is_refused(
    school: Organisation, exchange: ProcessingActivity
) -> None:
    flow = request_flow(
        school,
        Recipient.objects.get(code="overseas-learning-app"),
        exchange,
        lawful_basis="6.1.e",
        categories=["learner.identity"],
    )
    with tenant_scope([school.id]), pytest.raises(ValidationError, match="outside the UK and EEA"):
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))


def test_approval_may_narrow_but_never_widen(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity
) -> None:
    flow = request_flow(school, attendance_service, exchange)
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="only narrow"):
            services.flow_approve(flow=flow, actor=Actor.system("DPO"), fields=[*flow.fields, "learners.ethnicity"])
        services.flow_approve(
            flow=flow, actor=Actor.system("DPO"), fields=["learners.legal_surname", "session-attendance.mark"]
        )
        assert flow.fields == ["learners.legal_surname", "session-attendance.mark"]


def test_status_moves_only_along_the_allowed_paths(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity
) -> None:
    flow = request_flow(school, attendance_service, exchange)
    with tenant_scope([school.id]):
        services.flow_decline(flow=flow, actor=Actor.system("DPO"), note="not needed")
        with pytest.raises(ValidationError, match="cannot become approved"):
            services.flow_approve(flow=flow, actor=Actor.system("DPO"))
    flow = request_flow(school, attendance_service, exchange)
    with tenant_scope([school.id]):
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        services.flow_suspend(flow=flow, actor=Actor.system("DPO"))
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        services.flow_revoke(flow=flow, actor=Actor.system("DPO"))
        with pytest.raises(ValidationError):
            services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        assert [e.status for e in flow.events.all()] == ["requested", "approved", "suspended", "approved", "revoked"]
