"""The pass: incremental by event id, deduplicated alerts, email to the right people, tenant walls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from steward.monitoring.models import Alert, DetectionCursor
from steward.tenancy.models import DataProtectionContact, Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.monitoring.conftest import WEDNESDAY, alerts, emit, every, run_pass
from tests.notify_fixtures import SmtpSink

MINUTE = dt.timedelta(minutes=1)
pytestmark = pytest.mark.django_db


def _failures(user: User, count: int, start: dt.datetime = WEDNESDAY) -> list[int]:
    return [
        emit(at, "sign_in_failed", ip_address="81.2.69.160", detail={"email": user.email})
        for at in every(start, count, MINUTE)
    ]


def test_a_pass_reads_only_the_events_after_the_cursor_and_moves_it(teacher: User) -> None:
    ids = _failures(teacher, 5)
    first = run_pass()
    assert (first.lo, first.hi, first.events) == (0, ids[-1], 5)
    assert DetectionCursor.objects.get().last_event_id == ids[-1]
    more = _failures(teacher, 3, WEDNESDAY + dt.timedelta(minutes=5))
    second = run_pass()
    assert (second.lo, second.hi, second.events) == (ids[-1], more[-1], 3)
    assert run_pass().events == 0  # nothing new


def test_counts_carry_across_passes_and_a_repeated_firing_updates_the_one_alert(
    teacher: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        # Passes run as the schedule runs them, a few minutes after the events: the window is open.
        _failures(teacher, 6)
        run_pass(WEDNESDAY + 6 * MINUTE)
        assert alerts() == []
        _failures(teacher, 4, WEDNESDAY + dt.timedelta(minutes=6))  # 10 in the window, over two passes
        run_pass(WEDNESDAY + 10 * MINUTE)
        _failures(teacher, 3, WEDNESDAY + dt.timedelta(minutes=10))
        run_pass(WEDNESDAY + 13 * MINUTE)
    [alert] = alerts("brute_force")
    assert alert.event_count == 13 and len(alert.event_ids) == 13
    assert len(smtp_sink.wait_for(1)) == 1  # one email for the alert, not one per firing


def test_one_open_alert_per_rule_subject_school_and_window_is_enforced_by_the_database(
    alder: Organisation, teacher: User
) -> None:
    from django.db import IntegrityError, transaction

    now = WEDNESDAY
    fields = dict(
        rule="brute_force",
        school=alder,
        subject_kind="account",
        subject_key=f"user:{teacher.pk}",
        subject_label="x",
        window_start=now,
        window_end=now,
        first_at=now,
        last_at=now,
        summary="s",
        created_at=now,
        updated_at=now,
    )
    with tenant_scope([alder.id]):
        Alert.objects.create(**fields)
        Alert.objects.create(**{**fields, "status": "resolved_expected"})  # a resolved one may sit beside it
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(**fields)


def test_the_schools_dpo_contacts_are_emailed_the_rule_and_a_link_and_nothing_personal(
    alder: Organisation, teacher: User, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")
    with tenant_scope([alder.id]):
        DataProtectionContact.objects.create(school=alder, kind="dpo", name="Dee Pio", email="contact@alder.invalid")
    with django_capture_on_commit_callbacks(execute=True):
        _failures(teacher, 10)
        run_pass()
    [alert] = alerts("brute_force")
    mails = smtp_sink.wait_for(3)
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(["contact@alder.invalid", dpo.email, teacher.email])
    body = mails[0].message.get_body().get_content()  # type: ignore[union-attr]
    assert "Many failed sign-ins to one account" in body and f"/school/alerts/{alert.pk}/" in body
    assert teacher.email not in body and "81.2.69.160" not in body


def test_processor_wide_alerts_go_to_the_processor_admins(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="admin@ict.invalid")
    factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="support@ict.invalid")
    with django_capture_on_commit_callbacks(execute=True):
        for at in every(WEDNESDAY, 20, MINUTE):
            emit(at, "api_refused", actor_client="client-abc")
        run_pass()
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == [admin.email] and "/processor/alerts/" in mail.message.get_body().get_content()  # type: ignore[union-attr]


def test_a_school_sees_only_its_own_alerts_and_never_the_processors(
    alder: Organisation, birch: Organisation, teacher: User
) -> None:
    birch_staff = factories.user(Role.SCHOOL_ADMIN, birch)
    _failures(teacher, 10)
    _failures(birch_staff, 10)
    for at in every(WEDNESDAY, 20, MINUTE):
        emit(at, "api_refused", actor_client="client-abc")
    run_pass()
    assert len(alerts()) == 3
    with tenant_scope([alder.id]):
        assert [a.subject_key for a in Alert.objects.all()] == [f"email:{teacher.email}"]
    with tenant_scope([birch.id]):
        assert [a.subject_key for a in Alert.objects.all()] == [f"email:{birch_staff.email}"]


def test_tallies_keep_only_what_a_later_pass_needs(teacher: User, alder: Organisation) -> None:
    """A day's reads stay as history; a closed window of failures goes; an open one stays (the
    brute-force rule's 15 minutes and the spraying rule's hour, for the address the failures came from)."""
    from steward.monitoring.models import Tally
    from steward.tenancy.scope import estate_scope, processor_scope

    emit(WEDNESDAY, "view", actor_user_id=teacher.pk, school_id=alder.id, object_type="mis.Learner", object_ids=[1])
    _failures(teacher, 3, WEDNESDAY - dt.timedelta(hours=3))  # a window closed long before the pass
    _failures(teacher, 3, WEDNESDAY)  # the pass runs 5 minutes after: still open
    run_pass(WEDNESDAY + 5 * MINUTE)
    with estate_scope(), processor_scope():
        kept = sorted((t.rule, t.events) for t in Tally.objects.all())
    assert kept == [("brute_force", 3), ("bulk_reads_day", 1), ("bulk_reads_hour", 1), ("password_spraying", 3)]
