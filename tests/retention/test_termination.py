"""Contract termination: a complete export, a confirmation window, a verified purge, a certificate."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner
from steward.portal.models import ParentAccount, ParentLink
from steward.retention.models import ContractTermination, RestoreReplay, RetentionProof
from steward.retention.services import hold_lift, hold_place
from steward.retention.termination import KEPT, certificate_text, open_export, termination_purge, termination_start
from steward.rights import services as rights
from steward.tenancy.models import Contract, Membership, Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from steward.tenancy.services import api_client_create, membership_grant
from tests import factories
from tests.ingest import builders as b

pytestmark = pytest.mark.dates  # requests received today, windows counted from now


def _populate(school: Organisation) -> None:
    stream = io.BytesIO(b.json_batch(b.small_school()))
    batch_ingest(school=school, stream=stream, format="json", mode="full", sent_by="t")
    factories.user(Role.SCHOOL_DPO, school)
    api_client_create(name=f"agent {school.urn}", kind="mis_agent", school=school)
    parent = ParentAccount.objects.create(email=f"p{school.urn}@example.invalid", full_name="Parent")
    with tenant_scope([school.id]):
        ParentLink.objects.create(parent=parent, school=school, contact_source_id="C1")
        learner = Learner.objects.get(source_id="L2")
        request = rights.request_log(
            school=school, kind="erasure", subject_kind="learner", subject_id=learner.pk, subject_label="L2",
            requested_by="parent", received_on=timezone.localdate(), actor=Actor.system("DPO"),
        )  # fmt: skip
        request.identity_checked = True
        request.save()
        rights.erasure_execute(request=request, actor=Actor.system("DPO"))


@pytest.fixture
def ending(settings: SettingsWrapper, tmp_path: Path) -> tuple[Organisation, Organisation]:
    settings.STEWARD_TERMINATION_DIR = tmp_path
    leaving, staying = factories.school("Leaving Primary"), factories.school("Staying Primary")
    _populate(leaving)
    _populate(staying)
    return leaving, staying


def _school_rows_as_owner(school_id: int) -> dict[str, int]:
    """Every table with a `school_id` column, and every model column pointing at an organisation, read as
    the owner (a superuser: row-level security cannot hide a row from it)."""
    left: dict[str, int] = {}
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'school_id'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE school_id = %s', [school_id])  # noqa: S608
            left[table] = cursor.fetchone()[0]
        for model in apps.get_models():
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model is Organisation and f.column != "school_id":
                    table = model._meta.db_table
                    cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{f.column}" = %s', [school_id])  # noqa: S608
                    left[f"{table}.{f.column}"] = cursor.fetchone()[0]
    return {t: n for t, n in left.items() if n}


def test_after_the_purge_no_table_holds_a_row_of_the_school_but_the_proofs(
    committed_db: None, ending: tuple[Organisation, Organisation]
) -> None:
    """Committed, so that the owner's connection (which row-level security cannot blind) sees the rows."""
    leaving, staying = ending
    staying_before = _school_rows_as_owner(staying.id)
    contract = Contract.objects.get(school=leaving)
    termination = termination_start(
        contract=contract, requested_by="Processor Admin", reason="The school is joining a trust"
    )

    assert termination.export_file == f"{leaving.urn}-{termination.pk}.zip"  # a name in the file store
    export = Path(settings.STEWARD_TERMINATION_DIR) / termination.export_file  # the folder `ending` chose
    assert export.exists() and stat.S_IMODE(export.stat().st_mode) == 0o600
    with open_export(termination) as stream, zipfile.ZipFile(stream) as archive:
        names = set(archive.namelist())
        assert {"ctf.xml", "manifest.json", "csv/mis_learner.csv", "json/mis_learner.json"} <= names
        assert json.loads(archive.read("json/mis_learner.json"))[0]["source_id"] == "L1"
        assert archive.read("csv/mis_learner.csv").decode().count("\n") == 2  # header + L1 (L2 was erased)
        assert json.loads(archive.read("manifest.json"))["rows"]["mis_learner"] == 1
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.ENDED

    with pytest.raises(ValidationError, match="has until"):
        termination_purge(termination=termination, confirmed_by="Processor Admin")
    hold = hold_place(school=leaving, reason="Insurer's claim", placed_by="DPO")
    with pytest.raises(ValidationError, match="legal hold"):
        termination_purge(termination=termination, confirmed_by="Processor Admin", override_window=True)
    hold_lift(hold=hold, lifted_by="DPO")

    done = termination_purge(termination=termination, confirmed_by="Processor Admin", override_window=True)

    assert done.verified and done.window_overridden and not any(done.verification.values())
    assert done.deleted["mis_learner"] == 1 and done.deleted["tenancy_membership"] == 1
    assert not export.exists()
    left = _school_rows_as_owner(leaving.id)
    kept_tables = {apps.get_model(label)._meta.db_table for label in KEPT}
    assert {t.split(".")[0] for t in left} <= kept_tables, left
    assert not Membership.objects.filter(organisation=leaving).exists()
    assert ParentAccount.objects.filter(email=f"p{leaving.urn}@example.invalid").count() == 0
    with processor_scope():  # the replay log and the terminations are the processor's records
        assert list(RestoreReplay.objects.filter(school=leaving).values_list("kind", flat=True)) == ["school_purge"]
        record = ContractTermination.objects.get(pk=termination.pk)
    assert RetentionProof.objects.filter(school=leaving, run="erasure").exists()  # the erasure's counts survive
    assert _school_rows_as_owner(staying.id) == staying_before  # another school's data is untouched

    certificate = certificate_text(record)
    assert "every table counted 0 rows of the school" in certificate
    assert "mis_learner: 1" in certificate and "Confirmed by: Processor Admin" in certificate
    assert "L1" not in certificate.replace("URN", "")


@pytest.mark.django_db
def test_the_purge_waits_for_the_window_unless_overridden(ending: tuple[Organisation, Organisation]) -> None:
    leaving, _ = ending
    termination = termination_start(
        contract=Contract.objects.get(school=leaving), requested_by="Admin", reason="The school closed"
    )
    assert (termination.purge_not_before - termination.requested_at) == dt.timedelta(days=30)
    later = termination.purge_not_before + dt.timedelta(minutes=1)
    done = termination_purge(termination=termination, confirmed_by="Admin", now=later)
    assert done.verified and not done.window_overridden
    with pytest.raises(ValidationError, match="already"):
        termination_purge(termination=done, confirmed_by="Admin")


@pytest.mark.django_db
def test_the_purge_deletes_accounts_whose_only_roles_were_at_the_school(
    ending: tuple[Organisation, Organisation],
) -> None:
    leaving, staying = ending
    only_here = factories.user(Role.SCHOOL_ADMIN, leaving, email="only-here@example.invalid")
    both = factories.user(Role.SCHOOL_ADMIN, leaving, email="both@example.invalid")
    membership_grant(user=both, organisation=staying, role=Role.SCHOOL_DPO)
    processor_staff = factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="ict@example.invalid")
    membership_grant(user=processor_staff, organisation=leaving, role=Role.SCHOOL_ADMIN)
    superuser = factories.user(Role.SCHOOL_ADMIN, leaving, email="root@example.invalid")
    User.objects.filter(pk=superuser.pk).update(is_superuser=True, is_staff=True)
    termination = termination_start(
        contract=Contract.objects.get(school=leaving),
        requested_by="Processor Admin",
        reason="The school is joining a trust",
    )

    done = termination_purge(termination=termination, confirmed_by="Processor Admin", override_window=True)

    assert not User.objects.filter(pk=only_here.pk).exists()
    assert not TOTPDevice.objects.filter(user_id=only_here.pk).exists()
    assert done.deleted["tenancy_user"] == 2  # only_here and the DPO made by _populate
    kept = {"both@example.invalid", "ict@example.invalid", "root@example.invalid"}
    assert kept <= set(User.objects.values_list("email", flat=True))
    assert list(Membership.objects.filter(user=both).values_list("organisation", flat=True)) == [staying.id]
    assert list(Membership.objects.filter(user=processor_staff).values_list("role", flat=True)) == ["processor_admin"]
    assert not Membership.objects.filter(organisation=leaving).exists()
