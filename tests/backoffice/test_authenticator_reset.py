"""A lost authenticator: a processor administrator resets a member of staff's after a confirmation
step, the person is told by email and sets up a new one at their next sign-in; a school
administrator resets a parent's of their school the same way. Audited; nobody resets their own;
no other role, and no other school, may do it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.notify_fixtures import SmtpSink
from tests.portal import families as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def processor_admin() -> User:
    return factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="admin@ict.invalid")


def _admin_client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def test_the_reset_is_confirmed_audited_emailed_and_the_person_enrols_again(
    processor_admin: User, admin_a: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    client = _admin_client(processor_admin)
    listing = client.get("/processor/staff/")
    assert listing.status_code == 200 and admin_a.email in listing.content.decode()
    url = f"/processor/staff/{admin_a.pk}/authenticator/reset/"
    confirm = client.get(url)
    assert confirm.status_code == 200 and "has lost their authenticator" in confirm.content.decode()

    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 400
    assert "<title>Error: Reset" in unconfirmed.content.decode()
    assert TOTPDevice.objects.filter(user=admin_a).exists()  # nothing without the confirmation

    with django_capture_on_commit_callbacks(execute=True):  # the email goes once the reset is committed
        done = client.post(url, {"confirm": "yes"})
    assert (done.status_code, done["Location"]) == (302, "/processor/staff/")
    assert "authenticator is reset" in client.get("/processor/staff/").content.decode()
    assert not TOTPDevice.objects.filter(user=admin_a).exists()
    with processor_scope():
        event = AuditEvent.objects.get(action="authenticator_reset")
    assert (event.actor_user_id, event.object_ids) == (processor_admin.id, [str(admin_a.id)])
    [mail] = smtp_sink.messages
    assert mail.rcpt_tos == [admin_a.email] and "two-factor authentication was reset" in mail.message["Subject"]

    # the person signs in with their password and is asked to set up a new authenticator
    person = Client()
    person.post("/sign-in/", {"email": admin_a.email, "password": factories.PASSWORD})
    enrol = person.get("/sign-in/verify/")
    assert enrol.status_code == 200 and "Set up two-factor authentication" in enrol.content.decode()
    device = TOTPDevice.objects.get(user=admin_a, confirmed=False)
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    signed_in = person.post("/sign-in/verify/", {"token": code})
    assert signed_in.status_code == 302
    assert TOTPDevice.objects.filter(user=admin_a, confirmed=True).count() == 1


def test_the_sessions_of_the_reset_person_lose_their_second_factor(processor_admin: User, admin_a: User) -> None:
    theirs = _admin_client(admin_a)
    assert theirs.get("/account/marketing/").status_code == 200
    _admin_client(processor_admin).post(f"/processor/staff/{admin_a.pk}/authenticator/reset/", {"confirm": "yes"})
    response = theirs.get("/account/marketing/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def test_nobody_resets_their_own_authenticator(processor_admin: User) -> None:
    client = _admin_client(processor_admin)
    response = client.post(f"/processor/staff/{processor_admin.pk}/authenticator/reset/", {"confirm": "yes"})
    assert response.status_code == 400 and "cannot reset your own authenticator" in response.content.decode()
    assert TOTPDevice.objects.filter(user=processor_admin).exists()


def test_support_staff_and_school_admins_may_not_reset(processor_admin: User, admin_a: User) -> None:
    support = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="support@ict.invalid")
    for user in (support, admin_a):
        client = _admin_client(user)
        target = processor_admin.pk
        assert client.get("/processor/staff/").status_code == 403
        assert client.post(f"/processor/staff/{target}/authenticator/reset/", {"confirm": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(user=processor_admin).exists()


# --- A parent's lost authenticator, reset by an administrator of their school


@pytest.fixture
def family_school() -> Organisation:
    return f.family_school("Alder Primary")


def _parent_with_code(school: Organisation) -> ParentAccount:
    parent = f.registered_parent(school, "C1")
    parent.totp_key = os.urandom(20).hex()
    parent.totp_confirmed = True
    parent.save(update_fields=["totp_key", "totp_confirmed"])
    return parent


def _school_client(user: User, school: Organisation) -> Client:
    client = _admin_client(user)
    choose(client, school)
    return client


def test_a_school_admin_resets_a_parents_authenticator_after_confirming(
    family_school: Organisation, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    parent = _parent_with_code(family_school)
    admin = factories.user(Role.SCHOOL_ADMIN, family_school)
    client = _school_client(admin, family_school)
    assert parent.email in client.get("/school/portal/authenticators/").content.decode()
    url = f"/school/portal/authenticators/{parent.pk}/reset/"
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 400
    parent.refresh_from_db()
    assert parent.two_factor  # nothing without the confirmation

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"confirm": "yes"})
    assert (done.status_code, done["Location"]) == (302, "/school/portal/authenticators/")
    parent.refresh_from_db()
    assert (parent.totp_key, parent.totp_confirmed, parent.two_factor) == ("", False, False)
    with tenant_scope([family_school.id]):
        event = AuditEvent.objects.get(action="portal_authenticator_reset")
    assert (event.actor_user_id, event.school_id, event.object_ids) == (admin.id, family_school.id, [str(parent.pk)])
    assert smtp_sink.messages[-1].rcpt_tos == [parent.email]

    # the parent signs in with the password alone, and may set up a new app under Your account
    response = Client().post("/portal/sign-in/", {"email": parent.email, "password": f.PARENT_PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/portal/")


def test_another_schools_admin_and_the_dpo_cannot_reset_a_parents_authenticator(
    family_school: Organisation, admin_b: User, school_b: Organisation
) -> None:
    parent = _parent_with_code(family_school)
    url = f"/school/portal/authenticators/{parent.pk}/reset/"
    other = _school_client(admin_b, school_b)
    assert other.get(url).status_code == 404
    assert other.post(url, {"confirm": "yes"}).status_code == 404
    dpo = _school_client(factories.user(Role.SCHOOL_DPO, family_school), family_school)
    assert dpo.post(url, {"confirm": "yes"}).status_code == 403
    parent.refresh_from_db()
    assert parent.two_factor
