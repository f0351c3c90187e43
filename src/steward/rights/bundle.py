"""The subject-access bundle (Art. 15): one zip with what every app holds about the subject, the
audit events about them and every disclosure of their records.

`bundle.json` is for machines (every column, as stored), `bundle.html` for people (`readable`:
headings, labels and codes in words, the Art. 15 information from `article15`) (self-contained: no scripts, fonts or
stylesheets to fetch, so it opens the same offline in ten years), and `bundle.pdf` the same tables
for printing (`bundle_pdf.py`). The contents come from the privacy providers and
the logs only: nothing is picked per request, so a new app's data appears here as soon as its
provider exports it.
"""

from __future__ import annotations

import json
import zipfile
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils import timezone

from steward.audit.selectors import events_about
from steward.mis.privacy import subject_row, subject_rows_remembered
from steward.register.providers import Subject, providers
from steward.rights import article15, readable
from steward.rights.models import RightsRequest
from steward.rights.readable import Table
from steward.sharing.selectors import disclosures_of_subject

# The object type audit events use for each kind of subject held in the MIS.
SUBJECT_OBJECT_TYPES = {"learner": "mis.Learner", "contact": "mis.Contact", "staff": "mis.Staff"}


def subject_of(request: RightsRequest) -> Subject:
    return Subject(request.subject_kind, request.subject_id, request.school_id)  # type: ignore[arg-type]


def gather(request: RightsRequest, withheld: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Everything about the request's subject, as one JSON-ready document (call in the school's scope).

    `withheld` names sections (model labels) the DPO withheld at review: they are left out whole,
    and only their number is kept, so that "nothing held" is never concluded from a withheld bundle.
    """
    subject = subject_of(request)
    held: dict[str, dict[str, list[dict[str, Any]]]] = {}
    withheld_count = 0
    with subject_rows_remembered():  # every provider starts from the subject's row: read it once
        for provider in providers():
            exported = provider.export_subject(subject)
            withheld_count += sum(1 for model in exported if model in withheld)
            kept = {model: rows for model, rows in exported.items() if model not in withheld}
            if kept:
                held[provider.app_label] = kept
        row = subject_row(subject)
    source_id = row.source_id if row is not None else None
    disclosures = _disclosures(request.school_id, source_id)
    return {
        "school": request.school.name,
        "subject": {"kind": request.get_subject_kind_display(), "as_named": request.subject_label},
        "request": {"id": request.id, "kind": request.get_kind_display(), "received_on": request.received_on},
        "generated_at": timezone.now(),
        "held": held,
        "audit_events": _audit_events(request, source_id),
        "disclosures": disclosures,
        "withheld_count": withheld_count,
        "information": article15.information(
            school_id=request.school_id,
            subject_kind=request.subject_kind,
            held=held,
            sent_to=[d["recipient"] for d in disclosures],
        ),
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


def tables(document: dict[str, Any]) -> list[Table]:
    """The document as readable sections, one per model, then the audit events and the disclosures."""
    found = [
        readable.section(model, records)
        for exported in document["held"].values()
        for model, records in exported.items()
        if records
    ]
    found.append(readable.log_table("Who looked at or changed this data", document["audit_events"]))
    found.append(readable.log_table("Who the data was sent to", document["disclosures"]))
    return found


def holds_data(document: dict[str, Any]) -> bool:
    """Whether anything is held about the subject beyond the record of their own requests (which
    the request being answered always creates), withheld sections included."""
    return any(
        records
        for app, exported in document["held"].items()
        for model, records in exported.items()
        if model != "rights.RightsRequest"
    ) or bool(document.get("withheld_count"))


def render_html(document: dict[str, Any], found: list[Table] | None = None) -> str:
    """`found`: the document's `tables`, when the caller has them already (the PDF uses them too)."""
    return render_to_string("rights/bundle.html", {"document": document, "tables": found or tables(document)})


def write_bundle(
    document: dict[str, Any], out: IO[bytes], *, pdf: bool = True, found: list[Table] | None = None
) -> list[str]:
    """Write the zip to `out`; return the names written.

    Without `pdf` the zip holds the JSON and HTML only (each complete, with the Art. 15
    information), written at once; the PDF is then made in the background (`rights.pdf_jobs`)
    and offered on the request's page, and README.txt says so."""
    html = render_html(document, found)
    names = ["bundle.json", "bundle.html", "README.txt"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2))
        archive.writestr("bundle.html", html)
        if pdf:
            from steward.rights.bundle_pdf import bundle_pdf  # it builds on this module's tables

            archive.writestr("bundle.pdf", bundle_pdf(document))  # the same tables, for people who print them
            names.append("bundle.pdf")
        archive.writestr("README.txt", _readme(document, pdf=pdf))
    return names


def _readme(document: dict[str, Any], *, pdf: bool) -> str:
    lines = [
        f"Your personal data held by {document['school']} and its ICT service (Steward).",
        f"Generated {readable.cell(document['generated_at'])}.",
        "",
        "bundle.html  the same information to read in any web browser",
        "bundle.json  everything, for a computer to read",
    ]
    lines.append(
        "bundle.pdf   the same as bundle.html, to print"
        if pdf
        else "bundle.pdf   the same as bundle.html, to print, is being prepared: download it from the request's "
        "page in Steward when it is ready. bundle.html prints the same information."
    )
    return "\n".join(lines) + "\n"
