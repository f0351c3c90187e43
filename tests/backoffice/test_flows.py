"""A school reads a data-flow request in plain words and decides; refused decisions change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import services
from steward.sharing.catalogue import fields_for_categories
from steward.sharing.models import DataFlow, DataFlowEvent
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in

pytestmark = pytest.mark.django_db

PURPOSE = "Monitor attendance and act on persistent absence"
CATEGORIES = ["learner.identity", "learner.attendance"]


def request_flow(school: Organisation, **kwargs: object) -> DataFlow:
    arguments: dict[str, object] = {
        "purpose": PURPOSE,
        "lawful_basis": "6.1.c",
        "categories": CATEGORIES,
        "actor": Actor.system("LA attendance officer"),
        **kwargs,
    }
    with tenant_scope([school.id]):
        return services.flow_request(
            school=school,
            recipient=Recipient.objects.get(code="la-attendance"),
            activity=ProcessingActivity.objects.get(service="data_exchange"),
            **arguments,  # type: ignore[arg-type]
        )


def stored(flow: DataFlow) -> tuple[str, list[str], int]:
    with tenant_scope([flow.school_id]):
        fresh = DataFlow.objects.get(pk=flow.pk)
        return fresh.status, fresh.fields, DataFlowEvent.objects.filter(flow=fresh).count()


@pytest.fixture
def signed_in_a(client: Client, admin_a: User, school_a: Organisation) -> Client:
    sign_in(client, admin_a)
    choose(client, school_a)
    return client


def test_the_list_shows_the_schools_requests_and_nothing_of_another(
    signed_in_a: Client, school_a: Organisation, school_b: Organisation
) -> None:
    own = request_flow(school_a)
    other = request_flow(school_b, purpose="Birch only: children missing education")
    response = signed_in_a.get("/school/flows/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Requested (1)" in page
    assert "Attendance and enforcement service" in page and PURPOSE in page
    assert f'href="/school/flows/{own.id}/"' in page
    assert "Birch only" not in page and f"/school/flows/{other.id}/" not in page


def test_the_detail_reads_as_a_dpo_would_want_it(signed_in_a: Client, school_a: Organisation) -> None:
    flow = request_flow(school_a)
    page = signed_in_a.get(f"/school/flows/{flow.id}/").content.decode()
    assert "Attendance and enforcement service" in page and "Local-authority service" in page
    assert PURPOSE in page
    assert "Art. 6(1)(c) legal obligation" in page
    assert "Outside the UK and EEA" not in page
    assert 'value="session-attendance.mark" checked' in page
    assert page.count('name="fields" type="checkbox"') == len(fields_for_categories(set(CATEGORIES)))
    assert "/approve/" in page and "/decline/" in page and "/revoke/" in page and "/suspend/" not in page
    assert "LA attendance officer" in page


def test_approving_a_narrowed_field_set_stores_exactly_those_fields_and_is_audited(
    signed_in_a: Client, admin_a: User, school_a: Organisation
) -> None:
    flow = request_flow(school_a)
    chosen = [f for f in sorted(flow.fields) if f in {"session-attendance.mark", "session-attendance.date"}]
    assert chosen == ["session-attendance.date", "session-attendance.mark"]
    response = signed_in_a.post(f"/school/flows/{flow.id}/approve/", {"fields": chosen, "note": "Marks only"})
    assert (response.status_code, response["Location"]) == (302, f"/school/flows/{flow.id}/")
    assert stored(flow) == ("approved", chosen, 2)
    with tenant_scope([school_a.id]):
        event = DataFlowEvent.objects.filter(flow=flow).latest("id")
    assert (event.status, event.actor_label, event.note) == ("approved", admin_a.full_name, "Marks only")
    with tenant_scope([school_a.id]):
        audit = AuditEvent.objects.get(action="flow_approve")
    assert (audit.actor_user_id, audit.school_id, audit.object_type) == (admin_a.id, school_a.id, "sharing.DataFlow")
    assert audit.object_ids == [str(flow.id)]
    page = signed_in_a.get(f"/school/flows/{flow.id}/").content.decode()
    assert "/suspend/" in page and "/approve/" not in page and "/decline/" not in page


def test_declining_with_a_note(signed_in_a: Client, admin_a: User, school_a: Organisation) -> None:
    flow = request_flow(school_a)
    response = signed_in_a.post(f"/school/flows/{flow.id}/decline/", {"note": "Not needed"})
    assert response.status_code == 302
    assert stored(flow) == ("declined", flow.fields, 2)
    with tenant_scope([school_a.id]):
        event = DataFlowEvent.objects.filter(flow=flow).latest("id")
    assert (event.actor_label, event.note) == (admin_a.full_name, "Not needed")
    with tenant_scope([school_a.id]):
        assert AuditEvent.objects.filter(action="flow_decline", object_ids=[str(flow.id)]).count() == 1


def test_a_special_category_without_an_article_9_condition_is_refused_and_stays_requested(
    signed_in_a: Client, school_a: Organisation
) -> None:
    flow = request_flow(school_a, categories=["learner.identity", "learner.special.sen"])
    page = signed_in_a.get(f"/school/flows/{flow.id}/").content.decode()
    assert "Special category" in page and "None given" in page
    response = signed_in_a.post(f"/school/flows/{flow.id}/approve/", {"fields": flow.fields})
    assert response.status_code == 400
    page = response.content.decode()
    assert "govuk-error-summary" in page and "a special category needs an Art. 9 condition" in page
    assert stored(flow) == ("requested", flow.fields, 1)
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not AuditEvent.objects.filter(action="flow_approve").exists()


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("approve", {"fields": ["learners.not_a_field"]}, "approval may only narrow the requested fields"),
        ("approve", {}, "approval may only narrow the requested fields"),
        ("suspend", {}, "a requested flow cannot become suspended"),
    ],
)
def test_a_refused_action_changes_nothing(
    signed_in_a: Client, school_a: Organisation, action: str, data: dict[str, object], message: str
) -> None:
    flow = request_flow(school_a)
    response = signed_in_a.post(f"/school/flows/{flow.id}/{action}/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored(flow) == ("requested", flow.fields, 1)
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        # The request itself is audited (by the service, when it was made); no decision is.
        decisions = AuditEvent.objects.filter(object_type="sharing.DataFlow").exclude(action="flow_request_recorded")
        assert not decisions.exists()


def test_another_schools_flow_is_not_found_and_cannot_be_decided(signed_in_a: Client, school_b: Organisation) -> None:
    other = request_flow(school_b)
    assert signed_in_a.get(f"/school/flows/{other.id}/").status_code == 404
    assert signed_in_a.post(f"/school/flows/{other.id}/approve/", {"fields": other.fields}).status_code == 404
    assert signed_in_a.post(f"/school/flows/{other.id}/revoke/").status_code == 404
    assert stored(other) == ("requested", other.fields, 1)


def test_an_unknown_action_is_not_found(signed_in_a: Client, school_a: Organisation) -> None:
    flow = request_flow(school_a)
    assert signed_in_a.post(f"/school/flows/{flow.id}/delete/").status_code == 404
    assert signed_in_a.get(f"/school/flows/{flow.id}/approve/").status_code == 405
    assert stored(flow) == ("requested", flow.fields, 1)


def test_a_dpo_can_suspend_and_revoke(client: Client, school_a: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school_a)
    flow = request_flow(school_a)
    sign_in(client, dpo)
    choose(client, school_a)
    assert client.post(f"/school/flows/{flow.id}/approve/", {"fields": flow.fields}).status_code == 302
    assert client.post(f"/school/flows/{flow.id}/suspend/", {"note": "Breach reported"}).status_code == 302
    assert client.post(f"/school/flows/{flow.id}/revoke/").status_code == 302
    assert stored(flow) == ("revoked", flow.fields, 4)
    with tenant_scope([school_a.id]):
        assert list(DataFlowEvent.objects.filter(flow=flow).values_list("status", "actor_label")) == [
            ("requested", "LA attendance officer"),
            ("approved", dpo.full_name),
            ("suspended", dpo.full_name),
            ("revoked", dpo.full_name),
        ]
    with tenant_scope([school_a.id]):
        assert [e.action for e in AuditEvent.objects.filter(object_type="sharing.DataFlow").order_by("id")] == [
            "flow_request_recorded",
            "flow_approve",
            "flow_suspend",
            "flow_revoke",
        ]
    page = client.get(f"/school/flows/{flow.id}/").content.decode()
    assert "nothing more can be decided" in page and "Breach reported" in page


def test_processor_support_can_neither_read_nor_decide(client: Client, school_a: Organisation) -> None:
    flow = request_flow(school_a)
    staff = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    sign_in(client, staff)
    assert client.get("/school/flows/")["Location"] == "/schools/"
    assert client.get(f"/school/flows/{flow.id}/")["Location"] == "/schools/"
    response = client.post(f"/school/flows/{flow.id}/approve/", {"fields": flow.fields})
    assert (response.status_code, response["Location"]) == (302, "/schools/")
    session = client.session
    session["steward_school_id"] = school_a.id
    session.save()
    assert client.post(f"/school/flows/{flow.id}/approve/", {"fields": flow.fields}).status_code == 302
    assert stored(flow) == ("requested", flow.fields, 1)
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        # The request itself is audited (by the service, when it was made); no decision is.
        decisions = AuditEvent.objects.filter(object_type="sharing.DataFlow").exclude(action="flow_request_recorded")
        assert not decisions.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, school_a: Organisation) -> None:
    flow = request_flow(school_a)
    response = client.post(f"/school/flows/{flow.id}/approve/", {"fields": flow.fields})
    assert (response.status_code, response["Location"]) == (302, f"/sign-in/?next=/school/flows/{flow.id}/approve/")
    assert stored(flow) == ("requested", flow.fields, 1)


def test_the_navigation_offers_data_sharing_to_school_users(signed_in_a: Client) -> None:
    assert 'href="/school/flows/">Data sharing</a>' in signed_in_a.get("/school/register/").content.decode()


def test_a_failed_delivery_shows_on_the_flow(signed_in_a: Client, school_a: Organisation, tmp_path: Path) -> None:
    from steward.sharing import delivery

    flow = request_flow(school_a, delivery="export")
    with tenant_scope([school_a.id]):
        services.flow_approve(flow=flow, actor=Actor.system("DPO"))
        delivery.delivery_target_set(flow=flow, export_folder=str(tmp_path / "missing"))
    attempt = delivery.deliver_flow(flow_id=flow.id)
    assert attempt is not None and attempt.status == "failed"
    page = signed_in_a.get(f"/school/flows/{flow.id}/").content.decode()
    assert "Failed (attempt 1)" in page
    assert "FileNotFoundError" in page


def test_processor_staff_record_a_recipients_request_for_the_school_to_decide(
    client: Client, school_a: Organisation
) -> None:
    staff = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    sign_in(client, staff)
    form = {
        "school": school_a.id,
        "recipient": Recipient.objects.get(code="la-cme").id,
        "activity": ProcessingActivity.objects.get(service="data_exchange").id,
        "purpose": "Find children missing education",
        "lawful_basis": "6.1.c",
        "categories": ["learner.identity", "learner.enrolment"],
    }
    response = client.post("/processor/flow-requests/new/", form)
    assert response.status_code == 200
    assert "Request recorded" in response.content.decode()
    with tenant_scope([school_a.id]):
        flow = DataFlow.objects.get()
        assert (flow.status, flow.recipient.code, sorted(flow.categories)) == (
            "requested",
            "la-cme",
            ["learner.enrolment", "learner.identity"],
        )
    refused = client.post("/processor/flow-requests/new/", {**form, "categories": ["learner.photo"]})
    assert refused.status_code == 400
    assert "not processed by" in refused.content.decode()
    with tenant_scope([school_a.id]):
        assert DataFlow.objects.count() == 1
    # Audited by the sharing service, as a request through the API is (tests/sharing/test_api.py).
    with processor_scope():
        event = AuditEvent.objects.get(action="flow_request_recorded")
    assert (event.school_id, event.object_type, event.object_ids) == (school_a.id, "sharing.DataFlow", [str(flow.id)])
    assert (event.actor_user_id, event.actor_label) == (staff.id, f"{staff} for {flow.recipient.name}")


def test_an_empty_flow_request_is_refused_with_each_missing_field_named(client: Client) -> None:
    sign_in(client, factories.user(Role.PROCESSOR_SUPPORT, factories.processor()))
    refused = client.post("/processor/flow-requests/new/", {})
    page = refused.content.decode()
    assert refused.status_code == 400
    assert page.count('class="govuk-error-message"') >= 4  # school, recipient, activity, purpose at least
    assert "<title>Error: " in page


def test_school_staff_cannot_record_requests(signed_in_a: Client) -> None:
    assert signed_in_a.get("/processor/flow-requests/new/").status_code == 403
