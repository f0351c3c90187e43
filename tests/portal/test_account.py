"""The parent's own account through the portal's pages: the rules live in `portal.accounts`."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from steward.audit.models import AuditEvent
from steward.portal.models import ParentAccount, ParentLink, PushSubscription
from steward.tenancy.models import Organisation
from steward.tenancy.scope import processor_scope
from tests.portal import families as f

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # the family is relative to today

SUBSCRIBE = "/portal/account/push/subscribe/"


@pytest.fixture
def school() -> Organisation:
    return f.family_school("Alder Primary")


def test_closing_the_account_removes_its_links_and_devices_and_it_can_no_longer_sign_in(
    school: Organisation, settings: Any
) -> None:
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.1"]
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, parent.email)
    subscription = {"endpoint": "http://127.0.0.1:9/push/alex", "keys": {"p256dh": "k", "auth": "a"}}
    assert client.post(SUBSCRIBE, subscription, content_type="application/json").status_code == 201
    assert ParentAccount.objects.get(pk=parent.pk).notify_by_push

    assert client.post("/portal/account/close/").status_code == 200
    closed = ParentAccount.objects.get(pk=parent.pk)
    assert closed.closed_at is not None and not closed.is_active
    assert not PushSubscription.objects.filter(parent=parent).exists()
    with processor_scope():
        assert not ParentLink.objects.filter(parent=parent).exists()
        assert AuditEvent.objects.filter(action="portal_account_closed").count() == 1
    assert client.get("/portal/").status_code == 302  # the session went with it
    response = Client().post("/portal/sign-in/", {"email": parent.email, "password": f.PARENT_PASSWORD})
    assert response.status_code != 302


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"endpoint": "http://127.0.0.1:9/push/x"}, "expected {endpoint, keys: {p256dh, auth}}"),
        ({"endpoint": "http://10.0.0.1/push/x", "keys": {"p256dh": "k", "auth": "a"}}, ""),
    ],
)
def test_a_subscription_that_is_malformed_or_points_inside_the_network_is_refused_and_changes_nothing(
    school: Organisation, body: dict[str, Any], error: str
) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, parent.email)
    response = client.post(SUBSCRIBE, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] and (not error or response.json()["error"] == error)
    assert not PushSubscription.objects.exists()
    assert not ParentAccount.objects.get(pk=parent.pk).notify_by_push


def test_preferences_are_saved_sorted(school: Organisation) -> None:
    parent = f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, parent.email)
    response = client.post(
        "/portal/account/", {"notify_kinds": ["homework", "attendance"], "notify_by_email": "on"}, follow=False
    )
    assert response.status_code == 302
    saved = ParentAccount.objects.get(pk=parent.pk)
    assert saved.notify_kinds == ["attendance", "homework"]
    assert saved.notify_by_email and not saved.notify_by_push


def test_turning_every_notification_off_is_saved(school: Organisation) -> None:
    """Every box unticked sends an empty form: still an answer to save, not a first visit."""
    parent = f.registered_parent(school, "C1")
    ParentAccount.objects.filter(pk=parent.pk).update(notify_kinds=["homework"], notify_by_email=True)
    client = Client()
    f.portal_sign_in(client, parent.email)
    assert client.post("/portal/account/", {}).status_code == 302
    saved = ParentAccount.objects.get(pk=parent.pk)
    assert (saved.notify_kinds, saved.notify_by_email, saved.notify_by_push) == ([], False, False)
