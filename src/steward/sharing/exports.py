"""The school's disclosure log as CSV for a person's spreadsheet (what went to whom, and whose data).

A command: the log names the people whose records were released (MIS source ids), so the export is
audited when asked for, in the caller's transaction, and the rows are then streamed in chunks inside
the school's own scope. Every text cell goes through `core.csvsafe`.
"""

from __future__ import annotations

from collections.abc import Iterator

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.csvsafe import csv_line
from steward.sharing.selectors import DisclosureFilter, disclosures_filtered
from steward.tenancy.scope import tenant_scope

HEADER = ("When (UTC)", "Recipient", "Records", "How", "Number of records", "People concerned (MIS ids)")


def disclosures_csv(actor: Actor, *, school_id: int, where: DisclosureFilter) -> Iterator[str]:
    """Audit the export of the school's disclosures matching `where`, then stream them as CSV lines."""
    audit_action(
        actor,
        action="export_csv",
        school_id=school_id,
        object_type="sharing.Disclosure",
        purpose="accountability review",
        detail={"filter": {k: v for k, v in vars(where).items() if v}},
    )
    return _rows(school_id, where)


def _rows(school_id: int, where: DisclosureFilter) -> Iterator[str]:
    yield csv_line(HEADER)
    with tenant_scope([school_id]):
        for d in disclosures_filtered(where=where).iterator(chunk_size=1000):
            yield csv_line(
                (
                    f"{d.at:%Y-%m-%d %H:%M:%S}",
                    d.recipient.name,
                    d.record_type,
                    d.get_channel_display(),
                    str(d.record_count),
                    " ".join(d.subject_ids),
                )
            )
