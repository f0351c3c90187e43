"""The retention rules' targets are declared by the apps that own the data, one per rule, and a rule
no app declares is reported, never applied by guesswork; what the sweep deletes a restore cannot bring back."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, SchoolEnrolment, Tombstone
from steward.portal.models import ParentAccount, ParentLink
from steward.register.catalogue import ACTIVITIES
from steward.register.retention_targets import (
    RetentionTarget,
    catalogue_rule_keys,
    register_target,
    rule_key,
    target_for,
    targets,
)
from steward.retention.models import RestoreReplay
from steward.retention.selectors import unevaluated_rules
from steward.retention.services import backup_record, retention_sweep
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.ingest import builders as b

# The catalogue's rules over services not built yet: they hold no data, so no app declares them.
NOT_BUILT: set[tuple[str, str, str | None]] = set()


def test_every_catalogue_rule_has_exactly_one_declared_target_or_its_service_is_not_built() -> None:
    stated = [(a.service, r.trigger, r.category) for a in ACTIVITIES for r in a.retention]
    assert len(stated) == len(set(stated))  # the catalogue names each rule once
    declared = [t.key for t in targets()]
    assert len(declared) == len(set(declared))
    assert set(declared) == catalogue_rule_keys() - NOT_BUILT
    assert catalogue_rule_keys() >= NOT_BUILT
    for key in set(declared):
        assert target_for(key).key == key
        assert target_for(key).proof_category == (key[2] or "")


def test_the_targets_are_declared_by_the_apps_that_own_the_data() -> None:
    owners = {t.key: t.find.__module__ for t in targets()}
    assert owners == {
        ("hosted_mis", "contract_end", None): "steward.mis.retention",
        ("hosted_mis", "leaving_date", "learner.photo"): "steward.mis.retention",
        ("hosted_mis", "leaving_date", "learner.identity"): "steward.mis.retention",
        ("hosted_mis", "event_time", "audit.activity"): "steward.audit.retention",
        ("data_exchange", "event_time", None): "steward.sharing.retention",
        ("parent_portal", "account_closed", None): "steward.portal.retention",
        ("rostering", "leaving_date", "learner.identity"): "steward.provisioning.retention",
        ("rostering", "leaving_date", "staff.identity"): "steward.provisioning.retention",
        ("rostering", "event_time", None): "steward.provisioning.retention",
        ("service_desk", "ticket_resolved", None): "steward.servicedesk.retention",
    }


@pytest.mark.django_db
def test_the_rules_no_app_declares_are_the_ones_reported_as_not_evaluated() -> None:
    assert {rule_key(r) for r in unevaluated_rules()} == NOT_BUILT


def test_an_unknown_rule_key_fails_loudly() -> None:
    with pytest.raises(LookupError, match="no app declares a retention target for rule"):
        target_for(("service_desk", "event_time", None))
    with pytest.raises(LookupError, match="nowhere"):
        target_for(("nowhere", "event_time", None))
    existing = target_for(("data_exchange", "event_time", None))
    with pytest.raises(ValueError, match="not in the register's catalogue|no retention rule"):
        register_target(RetentionTarget("nowhere", "event_time", None, "school", existing.find, existing.delete))
    with pytest.raises(ValueError, match="already has a declared target"):
        register_target(RetentionTarget("data_exchange", "event_time", None, "school", existing.find, existing.delete))
    assert target_for(("data_exchange", "event_time", None)) is existing  # nothing was replaced


@pytest.mark.django_db
@pytest.mark.dates  # relative to today: `make test-dates`
def test_what_the_sweep_deleted_is_deleted_again_after_a_backup_is_restored() -> None:
    """Each target's deletions go to the replay log and come back out through the same target: a
    leaver's photograph and records (with tombstones), and a closed portal account."""
    today = timezone.localdate()
    school = factories.school("Replay Primary", services_=("hosted_mis", "parent_portal"))
    records = b.small_school()
    records["learners"][0]["photo"] = base64.b64encode(b"\xff\xd8\xff fake jpeg").decode()
    left = (today - dt.timedelta(days=400)).isoformat()
    records["school-enrolments"] = [
        {"source_id": "E1", "learner_source_id": "L1", "entry_date": "2020-09-01", "leaving_date": left,
         "enrolment_status": "C"},
    ]  # fmt: skip

    def ingest(extra_contact: bool) -> None:
        sent = {**records, "contacts": records["contacts"] + ([b.contact("C9")] if extra_contact else [])}
        batch_ingest(school=school, stream=io.BytesIO(b.json_batch(sent)), format="json", mode="full", sent_by="t")

    ingest(False)
    closed = timezone.now() - dt.timedelta(days=40)
    ParentAccount.objects.create(email="closed@example.invalid", full_name="Closed", closed_at=closed)
    backup = backup_record(
        taken_at=timezone.now() - dt.timedelta(hours=1), place="uk-backup", location="vault/1", school_ids=[school.id]
    )

    proofs = retention_sweep(today=today, schools=[school], processor_wide=True)
    done = {p.what: p.rows for p in proofs}
    assert done["photographs of learners who left"] == 1
    assert done["records of learners who left"] >= 2  # L1, its enrolment and what else refers to L1
    assert done["closed parent portal accounts"] == 1
    with tenant_scope([school.id]), processor_scope():
        replayed = set(RestoreReplay.objects.values_list("kind", "target"))
        account_id = RestoreReplay.objects.get(kind="rows", target="portal_parentaccount").source_ids[0]
    assert {("mis_records", "learners"), ("mis_records", "school-enrolments"), ("photos", "learners")} <= replayed
    with tenant_scope([school.id]):
        assert not Learner.objects.filter(source_id="L1").exists()

    ingest(True)  # the restore brings the rows back, the account with its own id
    restored = ParentAccount.objects.create(
        id=int(account_id), email="closed@example.invalid", full_name="Closed", closed_at=closed
    )
    with tenant_scope([school.id]):
        ParentLink.objects.create(parent=restored, school=school, contact_source_id="C2")
        assert Learner.objects.filter(source_id="L1").exclude(photo=None).exists()
        assert SchoolEnrolment.objects.filter(source_id="E1").exists()

    call_command("backup", "replay", backup=backup.pk)
    with tenant_scope([school.id]):
        assert not Learner.objects.filter(source_id="L1").exists()
        assert not SchoolEnrolment.objects.filter(source_id="E1").exists()
        assert Learner.objects.filter(source_id="L2").exists()
        assert Tombstone.objects.filter(record_type="learners", source_id="L1").exists()  # recipients hear
    assert not ParentAccount.objects.filter(email="closed@example.invalid").exists()
    with processor_scope():  # the portal deletes its account with what refers to it, not by id alone
        assert not ParentLink.objects.filter(contact_source_id="C2").exists()
