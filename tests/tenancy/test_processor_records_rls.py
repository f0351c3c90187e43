"""The second wall on the processor's own records that hold a school's personal data.

The audit log, parent links, contract terminations and the restore-replay log name a school but are
not tenant tables: processor-side services read them across schools. Row-level security shows a
school's scope only its own rows, shows nothing outside a scope, and opens every row only under the
explicit `processor_scope()`; the portal reads one parent's links through the narrow parent scope.
Raw SQL as the app role (the `default` connection), so only PostgreSQL stands in the way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from steward.audit.selectors import audit_chain_verify, events_about
from steward.audit.services import audit_record
from steward.portal.models import ParentAccount, ParentLink
from steward.portal.privacy import PortalPrivacyProvider
from steward.portal.selectors import parent_for_request, parent_school_ids
from steward.register.providers import Subject
from steward.retention.models import ContractTermination, RestoreReplay
from steward.tenancy.models import Contract, Organisation
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

TABLES = ["audit_auditevent", "portal_parentlink", "retention_contracttermination", "retention_restorereplay"]
# Rows of no school: audit events (sign-ins, processor actions) and replay entries of processor-wide tables.
NO_SCHOOL_ROWS = {"audit_auditevent": 1, "retention_restorereplay": 1}


@dataclass
class World:
    a: Organisation
    b: Organisation
    alex: ParentAccount  # linked to a contact at A and one at B
    blake: ParentAccount  # linked to a contact at B only


@pytest.fixture
def world() -> World:
    a, b = factories.school("School A"), factories.school("School B")
    alex = ParentAccount.objects.create(email="alex@example.invalid", full_name="Alex")
    blake = ParentAccount.objects.create(email="blake@example.invalid", full_name="Blake")
    with tenant_scope([a.id, b.id]), processor_scope():
        for school, parent, contact in ((a, alex, "C1"), (b, alex, "C2"), (b, blake, "C3")):
            ParentLink.objects.create(parent=parent, school=school, contact_source_id=contact)
        for school in (a, b):
            audit_record(action="view", school_id=school.id, object_type="mis.Learner", object_ids=["L1"])
            ContractTermination.objects.create(
                school=school,
                contract=Contract.objects.get(school=school),
                requested_by="Processor Admin",
                purge_not_before=timezone.now() + dt.timedelta(days=30),
            )
            RestoreReplay.objects.create(kind="mis_records", school=school, target="learners", source_ids=["L1"])
        audit_record(action="sign_in", actor_label="someone")
        RestoreReplay.objects.create(kind="rows", school=None, target="portal_parentaccount", source_ids=["9"])
    return World(a, b, alex, blake)


def _rows(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def _schools(table: str) -> list[object]:
    return [s for (s,) in _rows(f"SELECT school_id FROM {table} ORDER BY school_id NULLS LAST")]  # noqa: S608


@pytest.mark.parametrize("table", TABLES)
def test_a_schools_scope_reads_only_its_own_rows(world: World, table: str) -> None:
    per_school = 2 if table == "portal_parentlink" else 1
    with tenant_scope([world.a.id]):
        assert _schools(table) == [world.a.id]
        assert _rows(f"SELECT count(*) FROM {table} WHERE school_id = %s", [world.b.id]) == [(0,)]  # noqa: S608
    with tenant_scope([world.b.id]):
        assert _schools(table) == [world.b.id] * per_school


@pytest.mark.parametrize("table", TABLES)
def test_outside_any_scope_nothing_is_visible(world: World, table: str) -> None:
    assert _schools(table) == []
    with tenant_scope([]):
        assert _schools(table) == []


@pytest.mark.parametrize("table", TABLES)
def test_the_processor_scope_sees_every_row_and_ends_with_its_block(world: World, table: str) -> None:
    per_school = {"portal_parentlink": [world.a.id, world.b.id, world.b.id]}
    expected = per_school.get(table, [world.a.id, world.b.id]) + [None] * NO_SCHOOL_ROWS.get(table, 0)
    with processor_scope():
        assert _schools(table) == expected
    assert _schools(table) == []
    with tenant_scope([world.a.id]):
        with processor_scope():
            assert _schools(table) == expected
        assert _schools(table) == [world.a.id]  # the enclosing school scope, and no more


@pytest.mark.parametrize("table", ["portal_parentlink", "retention_contracttermination", "retention_restorereplay"])
def test_a_schools_scope_cannot_change_or_delete_another_schools_rows(world: World, table: str) -> None:
    with tenant_scope([world.a.id]), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET school_id = school_id WHERE school_id = %s", [world.b.id])  # noqa: S608
        assert cursor.rowcount == 0
        cursor.execute(f"DELETE FROM {table} WHERE school_id = %s", [world.b.id])  # noqa: S608
        assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(f"UPDATE {table} SET school_id = %s", [world.b.id])  # noqa: S608
    with processor_scope():
        assert _schools(table).count(world.b.id) == (2 if table == "portal_parentlink" else 1)


def test_a_schools_scope_cannot_write_a_row_of_another_school(world: World) -> None:
    b = world.b
    writes = [
        lambda: audit_record(action="view", school_id=b.id),
        lambda: ParentLink.objects.create(parent=world.blake, school=b, contact_source_id="C9"),
        lambda: RestoreReplay.objects.create(kind="rows", school=b, target="t", source_ids=["1"]),
        lambda: RestoreReplay.objects.create(kind="rows", school=None, target="t", source_ids=["1"]),
        lambda: ContractTermination.objects.create(
            school=b, contract=Contract.objects.get(school=b), requested_by="x", purge_not_before=timezone.now()
        ),
    ]
    with tenant_scope([world.a.id]):
        for write in writes:
            with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
                write()
    with processor_scope():
        assert _rows("SELECT count(*) FROM portal_parentlink WHERE contact_source_id = 'C9'") == [(0,)]
        assert _rows("SELECT count(*) FROM retention_restorereplay WHERE target = 't'") == [(0,)]


def test_an_event_of_no_school_is_written_from_any_scope_and_read_only_by_the_processor(world: World) -> None:
    outside = audit_record(action="sign_in", actor_label="a parent")
    with tenant_scope([world.a.id]):
        inside = audit_record(action="processor_action", actor_label="Processor Admin")
        assert _rows("SELECT count(*) FROM audit_auditevent WHERE school_id IS NULL") == [(0,)]
    with processor_scope():
        ids = [i for (i,) in _rows("SELECT id FROM audit_auditevent WHERE school_id IS NULL ORDER BY id")]
    assert ids[-2:] == [outside.id, inside.id]


def test_each_event_links_to_the_newest_event_of_its_school_and_the_chain_verifies(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with tenant_scope([world.a.id]):
        first_of_a = audit_record(action="view", school_id=world.a.id)
    with tenant_scope([world.b.id]):
        of_b = audit_record(action="view", school_id=world.b.id)
    with tenant_scope([world.a.id]):
        # One chain per school: A's next event links to A's newest, past B's event in between.
        of_a = audit_record(action="view", school_id=world.a.id)
    assert of_a.prev_hash == first_of_a.hash != of_b.hash
    report = audit_chain_verify()  # as the app role: the walk opens the processor scope itself
    assert (report.ok, report.checked) == (True, 6)
    call_command("audit", "verify")
    assert "6 events verified" in capsys.readouterr().out
    assert _schools("audit_auditevent") == []  # and closes it again


def test_a_parents_link_lookup_sees_only_that_parents_links_and_leaves_no_scope_behind(world: World) -> None:
    alex = parent_for_request(world.alex.pk)
    blake = parent_for_request(world.blake.pk)
    assert alex is not None and blake is not None
    assert alex.school_ids == sorted([world.a.id, world.b.id])  # type: ignore[attr-defined]
    assert blake.school_ids == [world.b.id]  # type: ignore[attr-defined]
    with tenant_scope([]):
        assert parent_school_ids(world.blake.pk) == [world.b.id]
        assert _rows("SELECT count(*) FROM portal_parentlink") == [(0,)]
        assert _rows("SELECT coalesce(current_setting('steward.parent_id', true), '')") == [("",)]
    assert _rows("SELECT count(*) FROM portal_parentlink") == [(0,)]


def test_the_parent_scope_setting_shows_one_accounts_links_only(world: World) -> None:
    with tenant_scope([]), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('steward.parent_id', %s, true)", [str(world.blake.pk)])
        cursor.execute("SELECT parent_id, school_id FROM portal_parentlink")
        assert cursor.fetchall() == [(world.blake.pk, world.b.id)]
        cursor.execute("UPDATE portal_parentlink SET contact_source_id = 'X' WHERE parent_id = %s", [world.blake.pk])
        assert cursor.rowcount == 0  # a read scope only: the account's own links are not writable through it


def test_a_subject_access_bundle_gets_the_actors_events_of_no_school_and_of_its_school_only(world: World) -> None:
    actor = f"parent account {world.alex.pk}"
    sign_in = audit_record(action="portal_sign_in", actor_label=actor)
    audit_record(action="portal_sign_in", actor_label=f"parent account {world.blake.pk}")
    with tenant_scope([world.a.id, world.b.id]):
        at_a = audit_record(action="portal_view", actor_label=actor, school_id=world.a.id)
        audit_record(action="portal_view", actor_label=actor, school_id=world.b.id)
    with tenant_scope([world.a.id]):
        found = events_about(school_id=world.a.id, objects={}, actor_label=actor)
        assert _schools("audit_auditevent") == [world.a.id, world.a.id]  # the processor scope did not outlive the read
    assert [e.id for e in found] == [sign_in.id, at_a.id]


def test_erasing_a_parent_account_goes_school_by_school_and_the_last_school_deletes_it(world: World) -> None:
    """A school erases only its part (its links); the account goes when the last school's link does,
    although each school's scope alone hides the account's links elsewhere."""
    with tenant_scope([world.a.id]):  # the request is handled by school A
        report = PortalPrivacyProvider().erase_subject(Subject("parent_user", world.alex.pk, world.a.id), dry_run=False)
    assert report.deleted["portal.ParentLink"] == 1
    assert ParentAccount.objects.filter(pk=world.alex.pk).exists()
    with processor_scope():
        assert _rows("SELECT school_id FROM portal_parentlink WHERE parent_id = %s", [world.alex.pk]) == [(world.b.id,)]
    with tenant_scope([world.b.id]):
        PortalPrivacyProvider().erase_subject(Subject("parent_user", world.alex.pk, world.b.id), dry_run=False)
    assert not ParentAccount.objects.filter(pk=world.alex.pk).exists()
    with processor_scope():
        assert _rows("SELECT count(*) FROM portal_parentlink WHERE parent_id = %s", [world.alex.pk]) == [(0,)]
        assert _rows("SELECT count(*) FROM portal_parentlink") == [(1,)]  # Blake's link stays
