"""The bulk MIS tables name their school without a foreign-key constraint (checked once a batch, not
once a row: see `mis.base.school_without_constraint`); a trigger keeps the constraint's other half,
so a school that still holds MIS rows cannot be deleted, even by SQL that bypasses the ORM."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, connections, transaction

from steward.ingest.services import batch_ingest
from steward.mis.base import MisRecord
from steward.mis.models import Tombstone
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b


def _delete_school(school_id: int, *, using: str = "default") -> None:
    """Plain SQL, past the ORM's PROTECT, as the app's role (or the tables' owner); rolled back either way."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("DELETE FROM tenancy_organisation WHERE id = %s", [school_id])
        transaction.set_rollback(True, using=using)


@pytest.mark.django_db
def test_a_school_that_holds_mis_records_cannot_be_deleted() -> None:
    school = factories.school("Guarded Primary")
    batch = io.BytesIO(b.json_batch(b.small_school()))
    batch_ingest(school=school, stream=batch, format="json", mode="full", sent_by="t")
    with pytest.raises(IntegrityError, match=f"school {school.id} still holds MIS records"):
        _delete_school(school.id)


def test_the_tables_owner_cannot_delete_it_either(committed_db: None) -> None:
    """Row-level security is forced on the owner too; the guard looks with the deleted school's own
    scope, whatever scope the deleter has (here none), so the owner's DELETE is refused alike."""
    school = factories.school("Owned Primary")
    batch_ingest(
        school=school, stream=io.BytesIO(b.json_batch(b.small_school())), format="json", mode="full", sent_by="t"
    )
    with pytest.raises(IntegrityError, match=f"school {school.id} still holds MIS records"):
        _delete_school(school.id, using="owner")
    assert Organisation.objects.filter(pk=school.pk).exists()


@pytest.mark.django_db
def test_a_school_that_holds_only_tombstones_cannot_be_deleted_either() -> None:
    school = factories.school("Tombstoned Primary")
    with tenant_scope([school.id]):
        Tombstone.objects.create(school=school, record_type="learners", source_id="L9")
    with pytest.raises(IntegrityError, match="mis_tombstone"):
        _delete_school(school.id)


@pytest.mark.django_db
def test_a_school_with_no_mis_records_can_be_deleted() -> None:
    """The guard refuses only what the constraint refused: a bare organisation row goes."""
    bare = Organisation.objects.create(
        kind=Organisation.Kind.SCHOOL, name="Bare Primary", urn=990001, la_code="881", establishment_number="2990"
    )
    _delete_school(bare.id)  # raises if the guard refused it
    assert Organisation.objects.filter(pk=bare.pk).exists()  # rolled back, as `_delete_school` promises


@pytest.mark.django_db
def test_every_table_without_the_constraint_is_guarded() -> None:
    """A new bulk MIS model (a `MisRecord`) gets the constraint-free school; the guard must name its table."""
    bulk = {m._meta.db_table for m in apps.get_models() if issubclass(m, MisRecord)} | {Tombstone._meta.db_table}
    for model in apps.get_models():
        if model._meta.db_table in bulk:
            assert model._meta.get_field("school").db_constraint is False  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('steward_school_holds_mis_rows'::regproc)")
        (definition,) = cursor.fetchone()
        cursor.execute(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid = 'tenancy_organisation'::regclass"
        )
        constrained = {row[0] for row in cursor.fetchall()}
    assert len(bulk) == 20
    assert sorted(t for t in bulk if f"'{t}'" not in definition) == []
    assert bulk.isdisjoint(constrained)
    assert "tenancy_membership" in constrained  # the query sees constraints where there are some
