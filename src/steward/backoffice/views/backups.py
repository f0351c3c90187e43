"""The processor's Backups page: every backup copy, newest first, with whether it was verified to
restore (issue #17). Read-only: `steward backup create|verify` (and their scheduled runs) make and
check copies; this page is how the ICT service's administrators know their backups restore."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from steward.audit.services import audit_request
from steward.backoffice.access import processor_role_required
from steward.core.http import StewardRequest
from steward.retention import selectors
from steward.retention.models import BackupCopy
from steward.tenancy import selectors as tenancy_selectors
from steward.tenancy.models import Role
from steward.tenancy.scope import processor_scope

_STATUSES = [("", "Any"), *selectors.BACKUP_STATUSES.items()]


def _state(copy: BackupCopy) -> tuple[str, str, str]:
    """(status label, GOV.UK tag colour, what the last verification found) in plain words."""
    found: dict[str, Any] = copy.verification or {}
    if copy.deleted_at is not None:
        when = timezone.localtime(copy.deleted_at).strftime("%-d %B %Y")
        return "Deleted", "govuk-tag--grey", f"Deleted from the backup folder on {when}, past its retention period."
    if copy.verified_ok is True:
        chain = found.get("audit_chain", {})
        schools = len(found.get("rows_per_school", {}))
        outcome = (
            f"Restored into a scratch server: audit log intact ({chain.get('checked', 0)} events checked), "
            f"row-level security on every school table, rows of {schools} school{'s' * (schools != 1)}, "
            f"{found.get('replayed', 0)} erasure(s) and purge(s) made since applied again."
        )
        return "Verified: it restores", "govuk-tag--green", outcome
    if copy.verified_ok is False:
        return "Failed verification", "govuk-tag--red", str(found.get("error") or "The restored copy's checks failed.")
    if found.get("note"):
        return (
            "Not verified: no key on this server",
            "govuk-tag--yellow",
            (
                "The weekly check found no private key on this server (the default). Verify it by hand with "
                "the key: steward backup verify --backup ID --identity FILE."
            ),
        )
    return "Not verified yet", "govuk-tag--grey", ""


@processor_role_required(Role.PROCESSOR_ADMIN)
def processor_backups(request: StewardRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    error = ""
    if status not in ("", *selectors.BACKUP_STATUSES):
        error = f"Choose a status from the list (“{status[:40]}” is not one)"
    copies = [] if error else selectors.backup_copies(status=status)
    names = tenancy_selectors.schools_named(ids=sorted({i for c in copies for i in c.school_ids}))
    rows = []
    for copy in copies:
        label, colour, outcome = _state(copy)
        held = [names[i].name for i in copy.school_ids if i in names]
        gone = len(copy.school_ids) - len(held)
        rows.append(
            {
                "copy": copy,
                "status": label,
                "colour": colour,
                "outcome": outcome,
                "schools": held,
                "gone": gone,
            }
        )
    with processor_scope():
        if copies:
            audit_request(
                request,
                action="view",
                object_type="retention.BackupCopy",
                object_ids=[c.pk for c in copies],
                purpose="backups",
            )
    context = {"rows": rows, "status": status, "statuses": _STATUSES, "error": error}
    return render(request, "backoffice/processor_backups.html", context, status=400 if error else 200)
