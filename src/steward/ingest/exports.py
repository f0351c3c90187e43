"""Export a school's learners as a DfE Common Transfer File: the portability format.

What a CTF can hold is written (learners with a UPN, their contacts, enrolments, SEN, FSM and
session attendance); it imports again with no loss for those fields.
"""

from __future__ import annotations

from typing import Any

from steward.audit.services import audit_record
from steward.ingest import ctf
from steward.ingest.schema import spec_for
from steward.mis.models import MODEL_BY_TYPE
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope


def ctf_export(*, school: Organisation, actor_label: str, purpose: str = "portability export") -> bytes:
    with tenant_scope([school.id]):
        records = _ctf_records()
        document = ctf.write_ctf(
            source={
                "la_code": school.la_code,
                "establishment_number": school.establishment_number,
                "urn": str(school.urn),
                "name": school.name,
            },
            records=records,
        )
        audit_record(
            action="export_ctf",
            actor_label=actor_label,
            organisation_id=school.id,
            school_id=school.id,
            object_type="mis.Learner",
            object_ids=[r["source_id"] for r in records["learners"]],
            purpose=purpose,
        )
    return document


def _ctf_records() -> dict[str, list[dict[str, Any]]]:
    learners = list(
        MODEL_BY_TYPE["learners"].objects.exclude(upn="").order_by("upn").values(*spec_for("learners").names)
    )
    kept = {r["source_id"] for r in learners}
    records: dict[str, list[dict[str, Any]]] = {"learners": learners}
    links = [r for r in _rows("learner-contacts") if r["learner_source_id"] in kept]
    contact_ids = {r["contact_source_id"] for r in links}
    records["learner-contacts"] = links
    records["contacts"] = [r for r in _rows("contacts") if r["source_id"] in contact_ids]
    for record_type in ("school-enrolments", "special-needs", "session-attendance"):
        records[record_type] = [r for r in _rows(record_type) if r["learner_source_id"] in kept]
    records["entitlements"] = [
        r for r in _rows("entitlements") if r["learner_source_id"] in kept and r["entitlement_type"] == "FSM"
    ]
    return records


def _rows(record_type: str) -> list[dict[str, Any]]:
    model = MODEL_BY_TYPE[record_type]
    return list(model.objects.order_by("source_id").values(*spec_for(record_type).names))
