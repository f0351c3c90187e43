"""The list of rights requests as CSV for a person's spreadsheet (the school's register of requests).

A command: it names people (subjects and requesters), so the export is audited when it is asked for,
in the caller's transaction, and the rows are then streamed, read in chunks inside the school's own
scope. Every text cell goes through `core.csvsafe`: a name as given is typed by someone.
"""

from __future__ import annotations

from collections.abc import Iterator

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.csvsafe import csv_line
from steward.rights.selectors import RequestFilter, requests_filtered
from steward.tenancy.scope import tenant_scope

HEADER = ("Number", "Type", "About", "Whose data", "Requested by", "Received", "Due", "Status", "Completed")


def requests_csv(actor: Actor, *, school_id: int, where: RequestFilter) -> Iterator[str]:
    """Audit the export of the school's requests matching `where`, then stream them as CSV lines."""
    audit_action(
        actor,
        action="export_csv",
        school_id=school_id,
        object_type="rights.RightsRequest",
        purpose="subject rights",
        detail={"filter": {k: v for k, v in vars(where).items() if v}},
    )
    return _rows(school_id, where)


def _rows(school_id: int, where: RequestFilter) -> Iterator[str]:
    yield csv_line(HEADER)
    with tenant_scope([school_id]):
        for r in requests_filtered(where=where).iterator(chunk_size=1000):
            yield csv_line(
                (
                    str(r.pk),
                    r.get_kind_display(),
                    r.subject_label,
                    r.get_subject_kind_display(),
                    r.requested_by,
                    r.received_on.isoformat(),
                    (r.extended_deadline or r.deadline).isoformat(),
                    r.get_status_display(),
                    f"{r.completed_at:%Y-%m-%d}" if r.completed_at else "",
                )
            )
