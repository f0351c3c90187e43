"""Authorization matrix of the back office: roles, schools, and another school's ids."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from steward.audit.models import AuditEvent
from steward.tenancy.models import DataProtectionContact, Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.rights import people_form

pytestmark = pytest.mark.django_db

SCHOOL_PAGES = ["/school/register/", "/school/people/", "/school/audit/", "/school/batches/", "/school/rights/"]
PROCESSOR_PAGES = ["/processor/schools/", "/processor/contracts/", "/processor/register/", "/processor/audit/"]


@pytest.fixture
def contacts(school_a: Organisation, school_b: Organisation) -> None:
    with tenant_scope([school_a.id, school_b.id]):
        DataProtectionContact.objects.create(school=school_a, kind="dpo", name="Ann Alder", email="ann@alder.invalid")
        DataProtectionContact.objects.create(school=school_b, kind="dpo", name="Bob Birch", email="bob@birch.invalid")


@pytest.mark.parametrize("path", SCHOOL_PAGES + PROCESSOR_PAGES + ["/", "/schools/"])
def test_signed_out_visitors_are_sent_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert (response.status_code, response["Location"]) == (302, f"/sign-in/?next={path}")


def test_a_school_admin_sees_their_school_and_nothing_of_another(
    client: Client, admin_a: User, admin_b: User, contacts: None
) -> None:
    sign_in(client, admin_a)
    choose(client, Organisation.objects.get(pk=admin_a.memberships.get().organisation_id))
    page = client.get("/school/people/").content.decode()
    assert "Ann Alder" in page and admin_a.email in page
    assert "Bob Birch" not in page and admin_b.email not in page


def test_switching_to_another_schools_id_is_refused_and_changes_nothing(
    client: Client, admin_a: User, school_a: Organisation, school_b: Organisation
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    response = client.post("/schools/switch/", {"school": school_b.id})
    assert response.status_code == 403
    assert client.session["steward_school_id"] == school_a.id
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not AuditEvent.objects.filter(action="switch_school", object_ids=[str(school_b.id)]).exists()


def test_a_session_forged_to_another_school_sees_nothing_of_it(
    client: Client, admin_a: User, school_b: Organisation, contacts: None
) -> None:
    sign_in(client, admin_a)
    session = client.session
    session["steward_school_id"] = school_b.id
    session.save()
    response = client.get("/school/people/")
    assert (response.status_code, response["Location"]) == (302, "/schools/")
    assert "steward_school_id" not in client.session


def test_a_user_of_two_schools_switches_between_them(
    client: Client, school_a: Organisation, school_b: Organisation, contacts: None
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school_a)
    factories.user  # noqa: B018 - the same person also holds a role at school B:
    from steward.tenancy.services import membership_grant

    membership_grant(user=dpo, organisation=school_b, role=Role.SCHOOL_DPO)
    sign_in(client, dpo)
    choose(client, school_a)
    assert "Ann Alder" in client.get("/school/people/").content.decode()
    choose(client, school_b)
    page = client.get("/school/people/").content.decode()
    assert "Bob Birch" in page and "Ann Alder" not in page


@pytest.mark.parametrize("path", PROCESSOR_PAGES)
def test_school_staff_cannot_open_processor_pages(
    client: Client, admin_a: User, school_a: Organisation, path: str
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", [Role.PROCESSOR_ADMIN, Role.PROCESSOR_SUPPORT])
def test_processor_staff_see_no_school_data_by_default(
    client: Client, school_a: Organisation, contacts: None, role: str
) -> None:
    staff = factories.user(role, factories.processor())
    sign_in(client, staff)
    assert client.get("/school/people/")["Location"] == "/schools/"
    assert client.post("/schools/switch/", {"school": school_a.id}).status_code == 403
    assert client.get("/processor/schools/").status_code == 200
    assert "Ann Alder" not in client.get("/processor/register/").content.decode()


def test_processor_support_may_not_read_the_audit_log(client: Client) -> None:
    staff = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    sign_in(client, staff)
    assert client.get("/processor/audit/").status_code == 403


def test_a_page_showing_personal_data_writes_an_audit_event(
    client: Client, admin_a: User, school_a: Organisation
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    client.get("/school/people/", HTTP_USER_AGENT="pytest-browser")
    with tenant_scope([school_a.id]):  # the school's event, read in its scope
        event = AuditEvent.objects.filter(action="view").latest("id")
    assert (event.actor_user_id, event.school_id, event.object_type) == (admin_a.id, school_a.id, "tenancy.Membership")
    assert event.object_ids == [str(admin_a.id)]
    assert (event.user_agent, event.ip_address) == ("pytest-browser", "127.0.0.1")
    assert len(event.request_id) == 32


def test_the_school_register_shows_only_the_contracted_services(
    client: Client, admin_a: User, school_a: Organisation
) -> None:
    sign_in(client, admin_a)
    choose(client, school_a)
    page = client.get("/school/register/").content.decode()
    main = page[page.index("<main") :]  # the menu names the service desk page for every school
    assert "Hosted MIS data" in main and "Parent portal" in main
    assert "Service desk" not in main and "Learning platform rostering" not in main
    assert "Art. 6(1)(e) public task" in page


def test_a_school_reads_its_rejected_batch_and_cannot_open_another_schools(
    client: Client, admin_a: User, school_a: Organisation, school_b: Organisation
) -> None:
    import io

    from steward.ingest.models import IngestBatch
    from steward.ingest.records import BatchRejected
    from steward.ingest.services import batch_ingest
    from tests.ingest import builders as b

    bad = b.small_school()
    bad["learners"][0]["ethnicity"] = "XXXX"
    for school in (school_a, school_b):
        with pytest.raises(BatchRejected):
            batch_ingest(school=school, stream=io.BytesIO(b.csv_zip(bad)), format="csv-zip", mode="full", sent_by="t")
    with tenant_scope([school_b.id]):
        other = IngestBatch.objects.get()
    sign_in(client, admin_a)
    choose(client, school_a)
    listing = client.get("/school/batches/").content.decode()
    assert "Rejected: 1 error" in listing
    with tenant_scope([school_a.id]):
        own = IngestBatch.objects.get()
    page = client.get(f"/school/batches/{own.id}/").content.decode()
    assert "&#x27;XXXX&#x27; is not a code of ethnicity" in page
    assert client.get(f"/school/batches/{other.id}/").status_code == 404


def test_a_dpo_logs_a_rights_request_and_sees_what_is_overdue(
    client: Client, admin_a: User, school_a: Organisation, school_b: Organisation
) -> None:
    from steward.rights.models import RightsRequest

    sign_in(client, admin_a)
    choose(client, school_a)
    form = people_form.log_form("access", "school_user", admin_a.pk, received_on=dt.date(2026, 9, 1))
    unknown = client.post("/school/rights/", {**form, "person": "Nobody Atall", "subject": ""})
    assert unknown.status_code == 400
    assert "No one at this school matches" in unknown.content.decode()
    assert client.post("/school/rights/", form).status_code == 302
    page = client.get("/school/rights/").content.decode()
    assert admin_a.full_name in page and "Overdue" in page
    refused = client.post("/school/rights/", {**form, **people_form.date_fields(dt.date(2999, 1, 1))})
    assert refused.status_code == 400
    assert "cannot be received in the future" in refused.content.decode()
    with tenant_scope([school_a.id]):
        assert RightsRequest.objects.count() == 1
    with tenant_scope([school_b.id]):
        assert RightsRequest.objects.count() == 0
