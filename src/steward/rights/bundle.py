"""The subject-access bundle (Art. 15): one zip with what every app holds about the subject, the
audit events about them and every disclosure of their records.

`bundle.json` is for machines, `bundle.html` for people (self-contained: no scripts, fonts or
stylesheets to fetch, so it opens the same offline in ten years), and `bundle.pdf` the same tables
for printing (`bundle_pdf.py`). The contents come from the privacy providers and
the logs only: nothing is picked per request, so a new app's data appears here as soon as its
provider exports it.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils import timezone

from steward.audit.selectors import events_about
from steward.mis.privacy import subject_row
from steward.register.providers import Subject, providers
from steward.rights.models import RightsRequest
from steward.sharing.selectors import disclosures_of_subject

# The object type audit events use for each kind of subject held in the MIS.
SUBJECT_OBJECT_TYPES = {"learner": "mis.Learner", "contact": "mis.Contact", "staff": "mis.Staff"}


def subject_of(request: RightsRequest) -> Subject:
    return Subject(request.subject_kind, request.subject_id, request.school_id)  # type: ignore[arg-type]


def gather(request: RightsRequest) -> dict[str, Any]:
    """Everything about the request's subject, as one JSON-ready document (call in the school's scope)."""
    subject = subject_of(request)
    held = {p.app_label: exported for p in providers() if (exported := p.export_subject(subject))}
    row = subject_row(subject)
    source_id = row.source_id if row is not None else None
    return {
        "school": request.school.name,
        "subject": {"kind": request.get_subject_kind_display(), "as_named": request.subject_label},
        "request": {"id": request.id, "kind": request.get_kind_display(), "received_on": request.received_on},
        "generated_at": timezone.now(),
        "held": held,
        "audit_events": _audit_events(request, source_id),
        "disclosures": _disclosures(request.school_id, source_id),
    }


def _audit_events(request: RightsRequest, source_id: str | None) -> list[dict[str, Any]]:
    ids = [str(request.subject_id)] + ([source_id] if source_id else [])
    objects = {
        "rights.RightsRequest": [
            str(i)
            for i in RightsRequest.objects.filter(
                school_id=request.school_id, subject_kind=request.subject_kind, subject_id=request.subject_id
            ).values_list("id", flat=True)
        ]
    }
    if request.subject_kind in SUBJECT_OBJECT_TYPES:
        objects[SUBJECT_OBJECT_TYPES[request.subject_kind]] = ids
    elif request.subject_kind == "school_user":
        objects["tenancy.User"] = ids
    # A parent account acts in its own name: its sign-ins and page views are about it too.
    actor = f"parent account {request.subject_id}" if request.subject_kind == "parent_user" else ""
    events = events_about(school_id=request.school_id, objects=objects, actor_label=actor)
    return [
        {
            "at": e.occurred_at,
            "who": e.actor_label or e.actor_client,
            "action": e.action,
            "object_type": e.object_type,
            "purpose": e.purpose,
        }
        for e in events
    ]


def _disclosures(school_id: int, source_id: str | None) -> list[dict[str, Any]]:
    if source_id is None:
        return []
    return [
        {
            "at": d.at,
            "recipient": d.recipient.name,
            "record_type": d.record_type,
            "channel": d.get_channel_display(),
            "records_in_release": d.record_count,
            "flows": d.flows,
        }
        for d in disclosures_of_subject(school_id=school_id, source_id=source_id)
    ]


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d %b %Y %H:%M") if timezone.is_aware(value) else str(value)
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | dict):
        return json.dumps(value, cls=DjangoJSONEncoder)
    return str(value)


def _table(title: str, records: list[dict[str, Any]]) -> Table:
    columns: list[str] = []
    for record in records:
        columns += [c for c in record if c not in columns]
    return Table(title, columns, [[_cell(r.get(c)) for c in columns] for r in records])


def tables(document: dict[str, Any]) -> list[Table]:
    """The document as titled tables, one per model, then the audit events and the disclosures."""
    found = [
        _table(model, records)
        for exported in document["held"].values()
        for model, records in exported.items()
        if records
    ]
    found.append(_table("Who looked at or changed this data (audit log)", document["audit_events"]))
    found.append(_table("Who the data was sent to (disclosure log)", document["disclosures"]))
    return found


def render_html(document: dict[str, Any]) -> str:
    return render_to_string("rights/bundle.html", {"document": document, "tables": tables(document)})


def write_bundle(document: dict[str, Any], out: IO[bytes]) -> list[str]:
    """Write the zip to `out`; return the names written."""
    from steward.rights.bundle_pdf import bundle_pdf  # it builds on this module's tables

    html = render_html(document)
    names = ["bundle.json", "bundle.html", "README.txt"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2))
        archive.writestr("bundle.html", html)
        archive.writestr("bundle.pdf", bundle_pdf(document))  # the same tables, for people who print them
        names.append("bundle.pdf")
        archive.writestr("README.txt", _readme(document, pdf=True))
    return names


def _readme(document: dict[str, Any], *, pdf: bool) -> str:
    lines = [
        f"Your personal data held by {document['school']} and its ICT service (Steward).",
        f"Generated {_cell(document['generated_at'])}.",
        "",
        "bundle.html  the same information to read in any web browser",
        "bundle.json  everything, for a computer to read",
    ]
    lines.append(
        "bundle.pdf   the same as bundle.html, to print"
        if pdf
        else "There is no PDF copy: the PDF writer (WeasyPrint) is not installed on this server. "
        "bundle.html prints the same information."
    )
    return "\n".join(lines) + "\n"
