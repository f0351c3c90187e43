"""The parent portal end to end through Django's test client: invitations, who sees which child,
items the school switched off, access ending with the MIS link, and the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount, PortalInvitation, PortalSettings, PushSubscription
from steward.portal.services import InvitationError, invitation_accept
from steward.rights.models import RightsRequest, RightsRequestEvent
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.portal import families as f

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`


@pytest.fixture
def school() -> Organisation:
    return f.family_school("Alder Primary")


def _switch(school: Organisation, **values: bool) -> None:
    with tenant_scope([school.id]):
        PortalSettings.objects.update_or_create(school=school, defaults=values)


def test_invited_parent_registers_signs_in_and_sees_only_their_child_on_roll(school: Organisation) -> None:
    token = f.invite(school, "C1")
    client = Client()
    page = client.get(f"/portal/invitation/{token}/")
    assert page.status_code == 200 and b"Create your parent portal account" in page.content
    response = client.post(
        f"/portal/invitation/{token}/",
        {"full_name": "Alex Jones", "password": f.PARENT_PASSWORD, "password_again": f.PARENT_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    home = client.get("/portal/").content.decode()
    assert "Sam Jones" in home  # preferred name
    assert "Olu" not in home  # left the school a month ago
    assert "Priya" not in home  # another family
    # the link cannot be used twice
    assert Client().get(f"/portal/invitation/{token}/").status_code == 410


def test_invitation_link_is_single_use_and_expires(school: Organisation) -> None:
    token = f.invite(school, "C2")
    invitation_accept(token=token, full_name="Raj Shah", password=f.PARENT_PASSWORD)
    with pytest.raises(InvitationError):
        invitation_accept(token=token, full_name="Someone Else", password=f.PARENT_PASSWORD)
    expired = f.invite(school, "C1")
    with tenant_scope([school.id]):
        PortalInvitation.objects.filter(accepted_at__isnull=True).update(expires_at=timezone.now() - dt.timedelta(1))
    assert Client().get(f"/portal/invitation/{expired}/").status_code == 410
    assert Client().get("/portal/invitation/999999.not-a-token/").status_code == 404
    assert Client().get("/portal/invitation/garbage/").status_code == 404


def test_a_contact_without_parental_responsibility_cannot_be_invited(school: Organisation) -> None:
    with pytest.raises(AssertionError, match="C3 could not be invited"):
        f.invite(school, "C3")


def test_a_parent_cannot_reach_another_familys_child_by_url(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    _switch(school, show_behaviour=True, show_photo=True)
    priya = f.learner_id(school, "L2")
    for url in (
        f"/portal/children/{priya}/",
        f"/portal/children/{priya}/behaviour/",
        f"/portal/children/{priya}/photo.jpg",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Priya" not in response.content
    assert client.get(f"/portal/children/{f.learner_id(school, 'L1')}/behaviour/").status_code == 200


def test_an_item_switched_off_is_not_shown_and_not_read(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")
    page = client.get(f"/portal/children/{sam}/").content.decode()
    assert "Homework" in page and "Behaviour" not in page
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/portal/children/{sam}/behaviour/")
    assert response.status_code == 404
    assert not [q["sql"] for q in queries.captured_queries if "mis_behaviour" in q["sql"]]

    _switch(school, show_behaviour=True)
    page = client.get(f"/portal/children/{sam}/behaviour/").content.decode()
    assert "Disruption" in page and "Private comment about Sam" in page
    assert "Priya" not in page


def test_access_ends_when_the_mis_removes_the_link_or_the_learner_leaves(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")
    assert client.get(f"/portal/children/{sam}/").status_code == 200
    f.send(
        school,
        {
            "school-enrolments": [
                {
                    "source_id": "E1",
                    "learner_source_id": "L1",
                    "entry_date": "2022-09-01",
                    "enrolment_status": "C",
                    "year_group": "4",
                    "leaving_date": f.TODAY.isoformat(),
                }
            ]
        },
    )
    assert client.get(f"/portal/children/{sam}/").status_code == 404
    assert "Sam" not in client.get("/portal/").content.decode()


def test_access_ends_when_the_link_is_deleted_by_the_mis(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")
    records = f.family_records()
    records["learner-contacts"] = [r for r in records["learner-contacts"] if r["source_id"] != "LC1"]
    f.send(school, records, mode="full")
    assert client.get(f"/portal/children/{sam}/").status_code == 404


def test_a_parent_of_children_in_two_schools_sees_both(school: Organisation) -> None:
    other = f.family_school("Birch Academy", prefix="")  # the same contact email at both schools
    f.registered_parent(school, "C1")
    token = f.invite(other, "C1")
    client = Client()
    page = client.get(f"/portal/invitation/{token}/")
    assert b"already have a parent portal account" in page.content
    response = client.post(
        f"/portal/invitation/{token}/", {"email": "alex@example.invalid", "password": f.PARENT_PASSWORD}
    )
    assert response.status_code == 302
    home = client.get("/portal/").content.decode()
    assert "Alder Primary" in home and "Birch Academy" in home
    assert home.count("Sam Jones") == 2
    assert ParentAccount.objects.count() == 1


def test_every_view_of_a_childs_data_is_audited(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")
    with tenant_scope([school.id]):  # the school's events, read in its scope
        before = AuditEvent.objects.filter(action="portal_view").count()
    client.get(f"/portal/children/{sam}/homework/")
    with tenant_scope([school.id]):
        event = AuditEvent.objects.filter(action="portal_view").latest("id")
        assert AuditEvent.objects.filter(action="portal_view").count() == before + 1
    assert event.object_ids == ["L1"] and event.detail == {"item": "homework"} and event.school_id == school.id
    assert event.actor_label == f"parent account {parent.pk}"


def test_a_correction_reaches_the_school_as_a_rectification_request(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    with tenant_scope([school.id]):
        link = parent.links.get()
    response = client.post(f"/portal/account/correction/{link.pk}/", {"correction": "My mobile is now 07700 900123"})
    assert response.status_code == 200 and b"Request sent" in response.content
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get()
        assert request.kind == "rectification" and request.subject_kind == "contact"
        assert RightsRequestEvent.objects.get(request=request).note == "My mobile is now 07700 900123"
    # the contact's record itself is untouched: the school decides
    assert client.post(f"/portal/account/correction/{link.pk}/", {"correction": " "}).status_code == 400


def test_sign_in_is_throttled_like_staff_sign_in(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    for _ in range(4):
        assert (
            client.post("/portal/sign-in/", {"email": "alex@example.invalid", "password": "wrong"}).status_code == 400
        )
    locked = client.post("/portal/sign-in/", {"email": "alex@example.invalid", "password": "wrong"})
    assert locked.status_code == 429 and b"Too many attempts" in locked.content
    # even the right password is refused while locked out
    assert (
        client.post("/portal/sign-in/", {"email": "alex@example.invalid", "password": f.PARENT_PASSWORD}).status_code
        == 429
    )


def test_a_parent_cannot_open_the_back_office(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    response = client.get("/school/people/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")
    assert Client().get("/portal/").status_code == 302  # and the portal needs a parent session


def test_a_parent_cannot_use_or_take_over_another_parents_links_or_devices(school: Organisation, settings: Any) -> None:
    alex = f.registered_parent(school, "C1")
    f.registered_parent(school, "C2", name="Raj Shah")
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.1"]
    subscription = {"endpoint": "http://127.0.0.1:9/push/alex", "keys": {"p256dh": "k", "auth": "a"}}
    alex_client, raj_client = Client(), Client()
    f.portal_sign_in(alex_client, "alex@example.invalid")
    f.portal_sign_in(raj_client, "raj@example.invalid")
    url = "/portal/account/push/subscribe/"
    assert alex_client.post(url, subscription, content_type="application/json").status_code == 201
    assert raj_client.post(url, subscription, content_type="application/json").status_code == 409
    assert PushSubscription.objects.get().parent_id == alex.pk
    # Alex's contact-details link is not Raj's to send corrections through
    with tenant_scope([school.id]):
        alex_link = alex.links.get()
    response = raj_client.post(f"/portal/account/correction/{alex_link.pk}/", {"correction": "x"})
    assert response.status_code == 404
    with tenant_scope([school.id]):
        assert not RightsRequest.objects.exists()


def test_the_attendance_page_counts_this_school_years_marks_on_any_day(school: Organisation) -> None:
    """Sam's two marks of last week (a school day of this school year, even on 1 September)."""
    f.registered_parent(school, "C1")
    _switch(school, show_session_attendance=True)
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    sam = f.learner_id(school, "L1")

    page = client.get(f"/portal/children/{sam}/attendance/").content.decode()

    assert "2 of 2 possible sessions attended. Late 1 time, 12 minutes in all." in page
