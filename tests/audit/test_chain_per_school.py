"""One chain per school (and one of events of no school): writers of different schools do not wait
for each other, and tampering in any chain, across chains or at the split from the single chain
still shows."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from steward.audit.chain import GENESIS, event_hash
from steward.audit.models import AuditChainSplit, AuditEvent
from steward.audit.selectors import audit_chain_verify, prunable_through
from steward.audit.services import audit_prune, audit_record, audit_seal_heads, committed_through
from steward.tenancy.scope import processor_scope

pytestmark = pytest.mark.dates  # the prune case prunes by age

LATER = timezone.now() + dt.timedelta(days=1)
A, B = 101, 202


def _record(school: int | None, n: int = 0) -> AuditEvent:
    with processor_scope():
        return audit_record(action="view", school_id=school, object_ids=[n])


def test_each_school_has_its_own_chain_and_all_of_them_verify(committed_db: None) -> None:
    a1, b1, none1, a2, b2 = _record(A), _record(B), _record(None), _record(A), _record(B)
    assert (a1.prev_hash, b1.prev_hash, none1.prev_hash) == (GENESIS, GENESIS, GENESIS)
    assert (a2.prev_hash, b2.prev_hash) == (a1.hash, b1.hash)
    assert (audit_chain_verify().ok, audit_chain_verify().checked) == (True, 5)


def test_deleting_a_schools_newest_but_one_event_breaks_that_schools_next_link(committed_db: None) -> None:
    a1, _, a2, _, a3, _ = (_record(s, n) for n, s in enumerate((A, B, A, B, A, B)))
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [a2.id])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at, report.reason) == (
        False,
        a3.id,
        "its prev_hash does not match the previous event's hash",
    )
    assert report.checked == 3  # a1, b1, b2: the events before it in id order
    del a1


def test_moving_an_event_to_another_school_or_renumbering_it_breaks_its_hash(committed_db: None) -> None:
    events = [_record(s, n) for n, s in enumerate((A, B, A, B))]
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET school_id = %s WHERE id = %s", [B, events[2].id])
    assert (audit_chain_verify().broken_at, audit_chain_verify().reason) == (
        events[2].id,
        "its prev_hash does not match the previous event's hash",  # B's chain: it does not link to B's newest
    )
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET school_id = %s WHERE id = %s", [A, events[2].id])
        # Swap the ids of A's two events (a reorder within the chain).
        cursor.execute("UPDATE audit_auditevent SET id = -id WHERE id IN (%s, %s)", [events[0].id, events[2].id])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [events[2].id, -events[0].id])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [events[0].id, -events[2].id])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at) == (False, events[0].id)


def _legacy_chain(schools: list[int | None]) -> list[dict[str, Any]]:
    """Events as the single chain wrote them before the split (each linked to the newest of any
    school), inserted as the owner, and the split recorded after the last of them."""
    rows: list[dict[str, Any]] = []
    previous = GENESIS
    with connections["owner"].cursor() as cursor:
        for n, school in enumerate(schools):
            cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id'))")
            values: dict[str, Any] = {
                "id": cursor.fetchone()[0],  # type: ignore[index]
                "occurred_at": timezone.now(),
                "school_id": school,
                "organisation_id": school,
                "action": "view",
                "object_ids": [str(n)],
                "detail": {},
                "prev_hash": previous,
                **dict.fromkeys(
                    ("actor_client", "actor_label", "object_type", "purpose", "request_id", "user_agent"), ""
                ),
            }
            values["hash"] = previous = event_hash(values)
            cursor.execute(
                "INSERT INTO audit_auditevent (id, occurred_at, school_id, organisation_id, action, object_ids, detail,"
                " prev_hash, hash, actor_client, actor_label, object_type, purpose, request_id, user_agent)"
                " VALUES (%s, %s, %s, %s, 'view', %s, '{}', %s, %s, '', '', '', '', '', '')",
                [
                    values["id"],
                    values["occurred_at"],
                    school,
                    school,
                    values["object_ids"],
                    values["prev_hash"],
                    previous,
                ],
            )
            rows.append(values)
        cursor.execute("DELETE FROM audit_auditchainsplit")  # the migration's row (a committed test empties it)
        cursor.execute(
            "INSERT INTO audit_auditchainsplit (last_single_id, last_single_hash) VALUES (%s, %s)",
            [rows[-1]["id"], previous],
        )
    return rows


def test_events_before_the_split_form_one_chain_and_each_school_continues_from_its_end(committed_db: None) -> None:
    legacy = _legacy_chain([A, B, None, A])
    a, b, a2 = _record(A), _record(B), _record(A)
    assert (a.prev_hash, b.prev_hash, a2.prev_hash) == (legacy[-1]["hash"], legacy[-1]["hash"], a.hash)
    report = audit_chain_verify()
    assert (report.ok, report.checked) == (True, 7)
    assert AuditChainSplit.objects.get().last_single_id == legacy[-1]["id"]

    # The single chain's last event dropped: nothing links to it any more, yet the split names it.
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [legacy[-1]["id"]])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at) == (False, a.id)
    assert f"event {legacy[-1]['id']}, where the chains split, is missing" in report.reason


def test_a_prune_across_chains_anchors_each_chain_and_a_chain_pruned_whole_continues(committed_db: None) -> None:
    legacy = _legacy_chain([A, None])
    a1, b1, a2, none1, a3 = _record(A), _record(B), _record(A), _record(None), _record(A)
    assert prunable_through(before=LATER) == a3.id - 1 == none1.id

    anchor = audit_prune(through_id=none1.id)

    assert anchor.chain_hashes == {str(A): a2.hash, str(B): b1.hash, "0": none1.hash}
    assert anchor.events_pruned == 6
    report = audit_chain_verify()
    assert (report.ok, report.checked, report.anchored_after) == (True, 1, none1.id)
    # B's chain was pruned whole: its next event links to the anchor's hash for it.
    b2 = _record(B)
    assert b2.prev_hash == b1.hash
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE audit_auditanchor SET chain_hashes = chain_hashes - %s", [str(B)])
    report = audit_chain_verify()
    assert (report.ok, report.broken_at, report.reason) == (
        False,
        b2.id,
        f"its prev_hash does not match anchor {anchor.id}'s hash",
    )
    del legacy, a1


def test_writers_of_different_schools_do_not_wait_and_the_committed_bound_waits_for_both(committed_db: None) -> None:
    """A writer of school A holds its transaction open; a writer of school B neither waits for it
    (a lock timeout would fail) nor is an event of A left behind by `committed_through`."""
    started, release = threading.Event(), threading.Event()
    written: list[AuditEvent] = []

    def slow_writer_of_a() -> None:
        try:
            with processor_scope():
                written.append(audit_record(action="view", school_id=A))
                started.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer_of_a)
    thread.start()
    assert started.wait(10)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '1s'")
        of_b = _record(B)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            _record(A)  # A's chain is still held by the open transaction
    timer = threading.Timer(0.3, release.set)
    timer.start()
    # A's event has the lower id and is not committed yet: the bound waits for it.
    assert written[0].id < of_b.id
    bound = committed_through()
    assert bound >= of_b.id
    with processor_scope():
        assert AuditEvent.objects.filter(id=written[0].id).exists()
    thread.join()
    assert audit_chain_verify().ok


def test_a_schools_newest_events_dropped_together_show_once_sealed(committed_db: None) -> None:
    """No link breaks when a chain's tail goes; the seal in the chain of no school names its head."""
    a1, b1, a2, a3 = _record(A), _record(B), _record(A), _record(A)
    seal = audit_seal_heads()
    assert seal is not None and seal.school_id is None
    assert seal.detail["heads"] == {str(A): [a3.id, a3.hash], str(B): [b1.id, b1.hash]}
    assert audit_seal_heads() is None  # nothing grew (the seal itself needs no seal)
    assert audit_chain_verify().ok

    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [a2.id, a3.id])
    report = audit_chain_verify()  # every remaining link holds: only the seal shows it
    assert (report.ok, report.broken_at) == (False, a3.id)
    assert "a seal names it as its chain's newest event" in report.reason

    # Events since the seal are the residual: dropping a newer tail shows only after the next seal.
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [seal.id])
    assert audit_chain_verify().ok
    del a1
