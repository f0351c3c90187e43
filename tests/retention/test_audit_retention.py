"""The sweep prunes audit events and retention proofs after the register's six years, and the chain still verifies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from steward.audit.models import AuditAnchor, AuditEvent
from steward.audit.selectors import audit_chain_verify
from steward.audit.services import audit_record
from steward.retention.models import RetentionProof
from steward.retention.selectors import retention_preview
from steward.retention.services import retention_sweep
from steward.tenancy.scope import processor_scope

pytestmark = pytest.mark.dates

SIX_YEARS_ON = timezone.localdate() + dt.timedelta(days=2191)  # everything written now is past the period


def test_audit_events_and_proofs_older_than_six_years_are_previewed_then_pruned(committed_db: None) -> None:
    for i in range(4):
        audit_record(action="view", object_ids=[i])
    old_proof = RetentionProof.objects.create(run="sweep", policy="p", what="w", rows=1)
    assert not retention_preview(today=timezone.localdate(), schools=[], processor_wide=True)

    due = {
        d.what: (d.rows, d.rule.period_days)
        for d in retention_preview(today=SIX_YEARS_ON, schools=[], processor_wide=True)
    }
    assert due == {
        "audit events older than six years": (3, 2190),  # the newest stays, for the next event to link to
        "retention proofs older than six years": (1, 2190),
    }

    proofs = retention_sweep(today=SIX_YEARS_ON, schools=[], processor_wide=True)

    assert {(p.what, p.rows, p.category) for p in proofs} == {
        ("audit events older than six years", 3, "audit.activity"),
        ("retention proofs older than six years", 1, "audit.activity"),
    }
    assert not RetentionProof.objects.filter(pk=old_proof.pk).exists()
    assert AuditAnchor.objects.get().events_pruned == 3
    # One event kept, plus the sweep's own record of each deletion.
    with processor_scope():  # events of no school: the processor's to count
        assert AuditEvent.objects.count() == 3
    report = audit_chain_verify()
    assert report.ok and report.checked == 3
