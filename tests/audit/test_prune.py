"""Pruning old audit events keeps the chain verifiable: from the newest anchor, not from GENESIS."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from steward.audit.models import AuditAnchor, AuditEvent
from steward.audit.selectors import audit_chain_verify, prunable_through
from steward.audit.services import audit_prune, audit_record
from steward.tenancy.scope import processor_scope, tenant_scope

pytestmark = pytest.mark.dates  # events are written now and pruned by age

LATER = timezone.now() + dt.timedelta(days=1)  # every event written in the test is older than this


def test_pruning_a_prefix_leaves_an_anchor_and_the_chain_still_verifies(
    committed_db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(5)]
    through = prunable_through(before=LATER)
    assert through == events[3].id  # the newest event stays: the next one links to it

    anchor = audit_prune(through_id=through)

    assert (anchor.pruned_through_id, anchor.anchor_hash, anchor.events_pruned) == (events[3].id, events[3].hash, 4)
    with processor_scope():  # events of no school: the processor's to read
        assert list(AuditEvent.objects.values_list("id", flat=True)) == [events[4].id]
    audit_record(action="view", object_ids=[5])
    report = audit_chain_verify()
    assert (report.ok, report.checked, report.anchored_after) == (True, 2, events[3].id)
    call_command("audit", "verify")
    assert f"2 events verified (from the anchor after pruned event {events[3].id})" in capsys.readouterr().out


def test_a_second_prune_starts_from_the_first_anchor(committed_db: None) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(3)]
    audit_prune(through_id=events[0].id)
    events += [audit_record(action="view", object_ids=[i]) for i in range(3, 6)]
    assert audit_prune(through_id=prunable_through(before=LATER) or 0).events_pruned == 4
    assert audit_chain_verify().ok
    assert AuditAnchor.objects.count() == 2


def test_the_newest_event_and_a_broken_prefix_are_never_pruned(committed_db: None) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(4)]
    with pytest.raises(ValueError, match="newest"):
        audit_prune(through_id=events[3].id)
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [events[1].id])
    with pytest.raises(ValueError, match=f"broken chain: event {events[1].id}"):
        audit_prune(through_id=events[2].id)
    with processor_scope():
        assert AuditEvent.objects.count() == 4 and not AuditAnchor.objects.exists()


def test_a_school_under_hold_stops_the_prefix(committed_db: None) -> None:
    with tenant_scope([1, 2]):  # a school's event is written in its scope
        events = [audit_record(action="view", school_id=school, object_ids=[1]) for school in (1, 2, 1, 1)]
    assert prunable_through(before=LATER, keep_schools=[2]) == events[0].id


def test_tampering_with_a_remaining_event_still_fails_after_a_prune(committed_db: None) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(5)]
    audit_prune(through_id=events[2].id)
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET object_ids = '{9}' WHERE id = %s", [events[4].id])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at, report.checked) == (False, events[4].id, 1)
    with pytest.raises(CommandError, match=f"broken at event {events[4].id}"):
        call_command("audit", "verify")


def test_a_forged_anchor_fails_verification(committed_db: None) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(5)]
    audit_prune(through_id=events[1].id)
    # An anchor that claims more was pruned than was: the events it covers are still there.
    forged = AuditAnchor.objects.create(
        pruned_through_id=events[3].id, anchor_hash=events[3].hash, pruned_at=timezone.now(), events_pruned=2
    )
    report = audit_chain_verify()
    assert (report.ok, report.broken_at) == (False, events[2].id)
    assert f"at or below anchor {forged.id}" in report.reason
    # An anchor at the right place with a made-up hash: the first remaining event does not link to it.
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditanchor SET pruned_through_id = %s, anchor_hash = %s WHERE id = %s",
                       [events[1].id, "f" * 64, forged.id])  # fmt: skip
    report = audit_chain_verify()
    assert (report.ok, report.broken_at, report.reason) == (
        False,
        events[2].id,
        f"its prev_hash does not match anchor {forged.id}'s hash",
    )


@pytest.mark.django_db
def test_the_app_role_can_neither_update_nor_delete_anchors() -> None:
    AuditAnchor.objects.create(pruned_through_id=1, anchor_hash="a" * 64, pruned_at=timezone.now(), events_pruned=1)
    for statement in ("UPDATE audit_auditanchor SET events_pruned = 0", "DELETE FROM audit_auditanchor"):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(), connection.cursor() as c:
            c.execute(statement)
