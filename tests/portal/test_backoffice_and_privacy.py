"""The school's side of the portal, the portal's privacy provider, and its place in the register."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP

from steward.audit.models import AuditEvent
from steward.portal.items import ITEMS
from steward.portal.models import ParentAccount, ParentLink, PortalInvitation, PortalPageViews, PortalSettings
from steward.portal.privacy import PortalPrivacyProvider
from steward.register.models import ProcessingActivity
from steward.register.providers import Subject
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.portal import families as f

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`


@pytest.fixture
def school() -> Organisation:
    return f.family_school("Alder Primary")


def test_every_item_shows_only_categories_the_registers_portal_activity_declares() -> None:
    activity = ProcessingActivity.objects.get(service="parent_portal")
    declared = set(activity.categories.values_list("code", flat=True))
    for item in ITEMS:
        assert set(item.categories) <= declared, item.code
    assert {s for i in ITEMS if (s := i.switch)} == {
        "show_photo",
        "show_diary",
        "show_session_attendance",
        "show_lesson_attendance",
        "show_achievements",
        "show_behaviour",
    }


def test_school_admin_switches_items_and_invites_a_year_group(
    school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school)
    other = f.family_school("Birch Academy", prefix="b")
    client = Client()
    sign_in(client, admin)
    choose(client, school)
    page = client.get("/school/portal/")
    assert page.status_code == 200 and b"Not invited" in page.content and b"Kim" not in page.content
    response = client.post("/school/portal/", {"action": "settings", "show_behaviour": "on", "show_diary": "on"})
    assert response.status_code == 302
    with tenant_scope([school.id]):
        settings = PortalSettings.objects.get()
        assert AuditEvent.objects.filter(action="portal_settings_changed", school_id=school.id).exists()
    assert settings.show_behaviour and settings.show_diary and not settings.show_photo

    mail.outbox.clear()
    year_4 = {"scope": "year", "year_group": "4", "group": ""}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/school/portal/", {**year_4, "action": "invite"})
        assert b"You are about to invite 1 parent of Year 4" in response.content and mail.outbox == []
        response = client.post("/school/portal/", {**year_4, "action": "send", "confirmed": "C1"}, follow=True)
    assert b"1 invitation sent to parents of Year 4" in response.content
    assert [m.to for m in mail.outbox] == [["alex@example.invalid"]]
    assert "/portal/invitation/" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/school/portal/", {"action": "invite", "scope": "all"})
        assert b"You are about to invite 1 parent who" in response.content  # Raj; Alex is already invited
        response = client.post("/school/portal/", {"action": "send", "scope": "all", "confirmed": "C2"}, follow=True)
    assert b"1 invitation sent" in response.content
    assert mail.outbox[-1].to == ["raj@example.invalid"]
    response = client.post("/school/portal/", {"action": "invite", "scope": "all"})
    assert response.status_code == 400 and b"Nobody to invite" in response.content
    # the other school's contacts were never in reach
    with tenant_scope([other.id]):
        assert not PortalInvitation.objects.exists()


def test_reinviting_replaces_the_earlier_link(school: Organisation) -> None:
    first = f.invite(school, "C1")
    second = f.invite(school, "C1")
    assert Client().get(f"/portal/invitation/{first}/").status_code == 410
    assert Client().get(f"/portal/invitation/{second}/").status_code == 200


def test_two_factor_is_optional_and_then_required_at_sign_in(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, parent.email)
    assert client.get("/portal/account/two-factor/").status_code == 200
    parent.refresh_from_db()
    code = f"{TOTP(bytes.fromhex(parent.totp_key)).token():06d}"
    assert client.post("/portal/account/two-factor/", {"token": code}).status_code == 302
    parent.refresh_from_db()
    assert parent.two_factor

    fresh = Client()
    response = fresh.post("/portal/sign-in/", {"email": parent.email, "password": f.PARENT_PASSWORD})
    assert response["Location"] == "/portal/sign-in/code/"
    assert fresh.get("/portal/").status_code == 302  # not signed in until the code is given
    assert fresh.post("/portal/sign-in/code/", {"token": code}).status_code == 400  # a code works once
    ParentAccount.objects.filter(pk=parent.pk).update(totp_last_t=0)
    response = fresh.post("/portal/sign-in/code/", {"token": f"{TOTP(bytes.fromhex(parent.totp_key)).token():06d}"})
    assert response.status_code == 302 and fresh.get("/portal/").status_code == 200


def test_cookie_choice_is_remembered_and_analytics_only_with_consent(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, parent.email)
    page = client.get("/portal/")
    assert b"Cookies on the parent portal" in page.content and "steward_analytics" not in page.cookies
    assert not PortalPageViews.objects.exists()
    response = client.post("/portal/cookies/", {"analytics": "no", "next": "/portal/"})
    assert response.cookies["steward_cookies_policy"].value == "analytics=no"
    page = client.get("/portal/")
    assert b"Cookies on the parent portal</h2>" not in page.content and "steward_analytics" not in page.cookies
    client.post("/portal/cookies/", {"analytics": "yes"})
    page = client.get("/portal/")
    assert "steward_analytics" in page.cookies
    client.get("/portal/")
    views = PortalPageViews.objects.get(page="home")
    assert (views.views, views.new_visitors) == (2, 1)
    parent.refresh_from_db()
    assert parent.analytics_cookies is True


def test_privacy_provider_exports_and_erases_a_parent_account(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    provider = PortalPrivacyProvider()
    subject = Subject("parent_user", parent.pk, school.id)
    with tenant_scope([school.id]):
        exported = provider.export_subject(subject)
        assert exported["portal.ParentAccount"][0]["email"] == "alex@example.invalid"
        assert exported["portal.ParentLink"][0]["contact_source_id"] == "C1"
        preview = provider.erase_subject(subject, dry_run=True)
        assert preview.deleted["portal.ParentAccount"] == 1 and ParentAccount.objects.exists()
        provider.erase_subject(subject, dry_run=False)
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not ParentAccount.objects.exists() and not ParentLink.objects.exists()


def test_erasing_a_contact_ends_their_portal_access(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    with tenant_scope([school.id]):
        from steward.mis.models import Contact

        contact = Contact.objects.get(source_id="C1")
        report = PortalPrivacyProvider().erase_subject(Subject("contact", contact.pk, school.id), dry_run=False)
    assert report.deleted == {"portal.PortalInvitation": 1, "portal.ParentLink": 1}
    client = Client()
    f.portal_sign_in(client, parent.email)
    assert "Sam" not in client.get("/portal/").content.decode()


def test_a_narrowed_invitation_without_its_year_class_or_contact_is_refused(
    school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    admin = factories.user(Role.SCHOOL_ADMIN, school)
    client = Client()
    sign_in(client, admin)
    choose(client, school)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for scope, message in (
            ("year", b"Choose a year group"),
            ("group", b"Choose a class or group"),
            ("contacts", b"Choose at least one parent or carer"),
        ):
            response = client.post("/school/portal/", {"action": "invite", "scope": scope})
            assert response.status_code == 400 and message in response.content, scope
        response = client.post("/school/portal/", {"action": "invite", "scope": "everyone"})
        assert response.status_code == 400
    assert mail.outbox == []
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()
