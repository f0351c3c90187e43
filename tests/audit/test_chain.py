"""The audit log is append-only for the application and tamper-evident for everyone else."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from steward.audit.chain import GENESIS
from steward.audit.models import AuditEvent
from steward.audit.selectors import audit_chain_verify
from steward.audit.services import audit_record
from steward.tenancy.scope import processor_scope


@pytest.mark.django_db
def test_events_are_chained_from_genesis() -> None:
    first = audit_record(action="sign_in", actor_label="A")
    second = audit_record(action="view", actor_label="B", object_type="tenancy.Membership", object_ids=[1, 2])
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert len(second.hash) == 64
    report = audit_chain_verify()
    assert report.ok and report.checked == 2


@pytest.mark.django_db
def test_the_app_role_can_neither_update_nor_delete_nor_truncate_events() -> None:
    audit_record(action="sign_in")
    for statement in (
        "UPDATE audit_auditevent SET action = 'nothing'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(), connection.cursor() as c:
            c.execute(statement)
    with processor_scope():
        assert list(AuditEvent.objects.values_list("action", flat=True)) == ["sign_in"]


def test_tampering_as_superuser_is_reported_at_the_first_broken_link(committed_db: None) -> None:
    events = [audit_record(action="view", actor_label=f"user {i}", object_ids=[i]) for i in range(5)]
    call_command("audit", "verify")  # intact: no error
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [events[2].id])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at, report.checked) == (False, events[2].id, 2)
    assert "content does not match" in report.reason
    with pytest.raises(CommandError, match=f"broken at event {events[2].id}"):
        call_command("audit", "verify")


def test_deleting_an_event_as_superuser_breaks_the_next_link(committed_db: None) -> None:
    events = [audit_record(action="view", object_ids=[i]) for i in range(4)]
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].id])
    report = audit_chain_verify()
    assert (report.broken_at, report.reason) == (events[2].id, "its prev_hash does not match the previous event's hash")
