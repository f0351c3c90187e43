"""Summary-only notifications after a batch: real SMTP (aiosmtpd) and a local Web Push service.

Committed rows throughout: the notification task runs when a batch commits, as in production.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from steward.mis.models import Achievement
from steward.portal.models import ParentAccount, PortalNotification, PortalSettings, PushSubscription
from steward.portal.notify import notify_new_records
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.notify_fixtures import PushReceiver, SmtpSink
from tests.portal import families as f

pytestmark = pytest.mark.dates  # the families' records are dated from today

NEW_EVENTS = {
    "homework": [
        {
            "source_id": "H9",
            "group_source_id": "G4",
            "title": "Secret title",
            "set_date": "2026-11-20",
            "due_date": "2026-12-01",
        }
    ],
    "behaviours": [
        {
            "source_id": "B9",
            "learner_source_id": "L1",
            "behaviour_type": "Rudeness",
            "points": -3,
            "comments": "Said X",
            "event_date": "2026-11-20",
        }
    ],
    "achievements": [
        {
            "source_id": "A9",
            "learner_source_id": "L1",
            "achievement_type": "Merit",
            "points": 7,
            "comments": "Great work",
            "event_date": "2026-11-20",
        },
        {
            "source_id": "A10",
            "learner_source_id": "L2",
            "achievement_type": "Merit",
            "points": 1,
            "event_date": "2026-11-20",
        },
    ],
}


@pytest.fixture
def school(committed_db: None) -> Organisation:
    """Committed, so each batch is its own transaction as in production (its rows carry its time)."""
    school = f.family_school("Alder Primary")
    with tenant_scope([school.id]):
        PortalSettings.objects.create(school=school, show_achievements=True)  # behaviour stays off
    return school


def _subscribe(parent: ParentAccount, kinds: list[str], *, email: bool = True) -> None:
    ParentAccount.objects.filter(pk=parent.pk).update(notify_kinds=kinds, notify_by_email=email)


def test_parents_who_asked_get_a_summary_by_email_and_nothing_more(school: Organisation, smtp_sink: SmtpSink) -> None:
    alex = f.registered_parent(school, "C1")
    raj = f.registered_parent(school, "C2", name="Raj Shah")
    _subscribe(alex, ["homework", "behaviour", "achievement"])
    _subscribe(raj, ["homework"])
    smtp_sink.messages.clear()
    f.send(school, NEW_EVENTS)
    mails = smtp_sink.wait_for(2)
    subjects = sorted((m.rcpt_tos[0], m.message["Subject"]) for m in mails)
    # Alex: homework and achievement for Sam; behaviour is switched off by the school, so no word of it.
    # Raj asked for homework only, and Priya (in another group) has no new homework.
    assert subjects == [
        ("alex@example.invalid", "New achievement for Sam"),
        ("alex@example.invalid", "New homework for Sam"),
    ]
    for mail in mails:  # the whole message is the summary and a link: no title, comment or points
        summary = mail.message["Subject"]
        assert (
            mail.body.strip() == f"{summary}.\n\nSign in to the parent portal to see it: http://127.0.0.1:8000/portal/"
        )
    with tenant_scope([school.id]):
        logged = sorted(PortalNotification.objects.values_list("kind", "summary", "channels"))
    assert logged == [
        ("achievement", "New achievement for Sam", ["email"]),
        ("homework", "New homework for Sam", ["email"]),
    ]


def test_the_same_batch_sent_again_notifies_nobody_twice(school: Organisation, smtp_sink: SmtpSink) -> None:
    alex = f.registered_parent(school, "C1")
    _subscribe(alex, ["achievement"])
    smtp_sink.messages.clear()
    f.send(school, NEW_EVENTS)
    smtp_sink.wait_for(1)
    changed = {"achievements": [NEW_EVENTS["achievements"][0] | {"comments": "Edited"}]}
    f.send(school, changed)  # an update, not a new record
    assert len(smtp_sink.messages) == 1


def test_push_carries_the_summary_only_and_a_gone_subscription_is_dropped(
    school: Organisation, push_receiver: PushReceiver, smtp_sink: SmtpSink
) -> None:
    alex = f.registered_parent(school, "C1")
    ParentAccount.objects.filter(pk=alex.pk).update(
        notify_kinds=["achievement"], notify_by_email=False, notify_by_push=True
    )
    sub = push_receiver.subscription
    smtp_sink.messages.clear()  # the invitation
    PushSubscription.objects.create(
        parent=alex, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"]
    )
    f.send(school, NEW_EVENTS)
    assert push_receiver.payload() == {
        "title": "Parent portal",
        "body": "New achievement for Sam",
        "url": "http://127.0.0.1:8000/portal/",
    }
    assert smtp_sink.messages == []  # email is off for this parent

    push_receiver.status = 410
    f.send(school, {"achievements": [NEW_EVENTS["achievements"][0] | {"source_id": "A11"}]})
    assert not PushSubscription.objects.filter(parent=alex).exists()


def test_a_parent_cannot_register_a_push_endpoint_inside_the_network(school: Organisation) -> None:
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    keys = {"p256dh": "x", "auth": "y"}
    for endpoint in (
        "http://push.example.com/x",
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://localhost/x",
    ):
        response = client.post(
            "/portal/account/push/subscribe/", {"endpoint": endpoint, "keys": keys}, content_type="application/json"
        )
        assert response.status_code == 400, endpoint
    assert client.post("/portal/account/push/subscribe/", "{}", content_type="application/json").status_code == 400
    assert not PushSubscription.objects.exists()


def test_a_retried_notification_task_sends_nothing_again_whatever_the_clocks_say(
    school: Organisation, smtp_sink: SmtpSink
) -> None:
    """The log is stamped by the app's clock, the batch's rows by PostgreSQL's: a retry must find
    what was sent by the records, even with the app's clock a month behind the database's."""
    alex = f.registered_parent(school, "C1")
    _subscribe(alex, ["achievement"])
    smtp_sink.messages.clear()
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=30)):
        f.send(school, NEW_EVENTS)
        smtp_sink.wait_for(1)
    with tenant_scope([school.id]):
        since = Achievement.objects.get(source_id="A9").created_at  # the batch's transaction time

    assert notify_new_records(school.id, since) == []
    assert len(smtp_sink.messages) == 1
