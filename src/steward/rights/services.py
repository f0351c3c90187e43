"""Commands on rights requests. Execution goes through every app's privacy provider: nothing is
picked by hand per request."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from steward.register.providers import ErasureReport, Subject, providers
from steward.rights.deadlines import latest_extension, response_deadline
from steward.rights.models import ErasureNotification, ProofOfDeletion, RightsRequest, RightsRequestEvent
from steward.tenancy.models import Organisation


@transaction.atomic
def request_log(
    *,
    school: Organisation,
    kind: str,
    subject_kind: str,
    subject_id: int,
    subject_label: str,
    requested_by: str,
    received_on: dt.date,
    actor_label: str,
    note: str = "",
) -> RightsRequest:
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": "a request cannot be received in the future"})
    request: RightsRequest = RightsRequest.objects.create(
        school=school,
        kind=kind,
        subject_kind=subject_kind,
        subject_id=subject_id,
        subject_label=subject_label,
        requested_by=requested_by,
        received_on=received_on,
        deadline=response_deadline(received_on),
    )
    _event(request, "logged", actor_label, note)
    return request


def request_extend(*, request: RightsRequest, to: dt.date, reason: str, actor_label: str) -> RightsRequest:
    """Extend (Art. 12(3)): by at most two further months, for a recorded reason."""
    if not reason.strip():
        raise ValidationError({"extension_reason": "record why the request is complex or numerous"})
    if not request.deadline < to <= latest_extension(request.received_on):
        raise ValidationError(
            {
                "extended_deadline": (
                    f"must fall after {request.deadline:%d %B %Y} and no later than "
                    f"{latest_extension(request.received_on):%d %B %Y}"
                )
            }
        )
    request.extended_deadline, request.extension_reason = to, reason
    request.save(update_fields=["extended_deadline", "extension_reason"])
    _event(request, "extended", actor_label, reason)
    return request


def request_mark_identity_checked(*, request: RightsRequest, actor_label: str) -> RightsRequest:
    request.identity_checked = True
    request.status = RightsRequest.Status.IN_PROGRESS
    request.save(update_fields=["identity_checked", "status"])
    _event(request, "identity_checked", actor_label)
    return request


def access_bundle(*, request: RightsRequest, actor_label: str) -> bytes:
    """Everything every app holds about the subject (JSON in a zip), once identity is checked."""
    _require(request, RightsRequest.Kind.ACCESS, RightsRequest.Kind.PORTABILITY)
    subject = _subject(request)
    held: dict[str, Any] = {}
    for provider in providers():
        exported = provider.export_subject(subject)
        if exported:
            held[provider.app_label] = exported
    document = {
        "school": request.school.name,
        "subject": {"kind": request.subject_kind, "as_named": request.subject_label},
        "generated_at": timezone.now(),
        "held": held,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("subject-access.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2))
    _complete(request, actor_label, f"bundle of {len(held)} app(s)")
    return buffer.getvalue()


def erasure_preview(*, request: RightsRequest) -> dict[str, ErasureReport]:
    """What erasure would delete and what must be kept (and why), app by app; changes nothing."""
    _require(request, RightsRequest.Kind.ERASURE)
    subject = _subject(request)
    return {p.app_label: p.erase_subject(subject, dry_run=True) for p in providers()}


@transaction.atomic
def erasure_execute(*, request: RightsRequest, actor_label: str) -> ProofOfDeletion:
    """Erase through every provider; tell each recipient that had the data (Art. 19); keep a proof."""
    _require(request, RightsRequest.Kind.ERASURE)
    subject = _subject(request)
    held = _legal_hold(subject)
    if held:
        raise ValidationError({"subject_id": f"a legal hold stops erasure: {held}"})
    had_data = _recipients_that_had(subject)
    _record_for_replay(subject)
    reports = [p.erase_subject(subject, dry_run=False) for p in providers()]
    for recipient_id, record_types in sorted(had_data.items()):
        ErasureNotification.objects.create(
            school_id=request.school_id, request=request, recipient_id=recipient_id, record_types=sorted(record_types)
        )
    proof: ProofOfDeletion = ProofOfDeletion.objects.create(
        school_id=request.school_id,
        request=request,
        deleted={m: n for r in reports for m, n in r.deleted.items() if n},
        kept={m: why for r in reports for m, why in r.kept.items()},
    )
    _complete(request, actor_label, f"erased; {len(had_data)} recipient(s) notified")
    return proof


def _legal_hold(subject: Subject) -> str:
    from steward.mis.privacy import subject_row
    from steward.retention.selectors import hold_on_subject

    row = subject_row(subject)
    return hold_on_subject(record_type=row.record_type, source_id=row.source_id) if row is not None else ""


def _record_for_replay(subject: Subject) -> None:
    """So that restoring an older backup cannot bring the subject back (retention's replay log)."""
    from steward.mis.privacy import subject_row
    from steward.retention.services import record_subject_erasure

    row = subject_row(subject)
    if row is not None:
        record_subject_erasure(school_id=row.school_id, record_type=row.record_type, source_id=row.source_id)


def _recipients_that_had(subject: Subject) -> dict[int, set[str]]:
    from steward.mis.privacy import subject_row
    from steward.sharing.selectors import disclosures_of_subject

    row = subject_row(subject)
    recipients: dict[int, set[str]] = {}
    if row is not None:
        for disclosure in disclosures_of_subject(source_id=row.source_id):
            recipients.setdefault(disclosure.recipient_id, set()).add(disclosure.record_type)
    return recipients


def restriction_apply(*, request: RightsRequest, restricted: bool, actor_label: str) -> None:
    """Restrict (or lift): every provider stops processing the subject other than storing it."""
    _require(request, RightsRequest.Kind.RESTRICTION, RightsRequest.Kind.OBJECTION)
    subject = _subject(request)
    for provider in providers():
        provider.restrict_subject(subject, restricted=restricted)
    _event(request, "restricted" if restricted else "restriction_lifted", actor_label)


def _require(request: RightsRequest, *kinds: str) -> None:
    if request.kind not in kinds:
        raise ValidationError({"kind": f"this is a {request.get_kind_display()} request"})
    if not request.identity_checked:
        raise ValidationError({"identity_checked": "check the requester's identity first"})


def _subject(request: RightsRequest) -> Subject:
    return Subject(request.subject_kind, request.subject_id, request.school_id)  # type: ignore[arg-type]


def _complete(request: RightsRequest, actor_label: str, note: str) -> None:
    request.status = RightsRequest.Status.COMPLETED
    request.completed_at = timezone.now()
    request.save(update_fields=["status", "completed_at"])
    _event(request, "completed", actor_label, note)


def _event(request: RightsRequest, action: str, actor_label: str, note: str = "") -> None:
    RightsRequestEvent.objects.create(
        school_id=request.school_id, request=request, action=action, actor_label=actor_label, note=note
    )
