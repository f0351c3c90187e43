"""Commands on rights requests. Execution goes through every app's privacy provider: nothing is
picked by hand per request. Each command audits itself (`rights_request_<action>`) in its own
transaction, whether the back office, the portal, a command or the demo called it."""

from __future__ import annotations

import datetime as dt
import io
from functools import partial
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.events import SubjectErased, publish
from steward.ingest.events import BatchApplied
from steward.mis.privacy import SUBJECT_MODELS, subject_row
from steward.notifications.email import send_email
from steward.register.providers import ErasureReport, Subject, providers
from steward.retention.events import SchoolPurging
from steward.retention.selectors import hold_on_subject
from steward.retention.services import keep_erasure_proofs
from steward.rights import article15, bundle, pdf_jobs, portability, readable
from steward.rights.deadlines import latest_extension, response_deadline
from steward.rights.models import ErasureNotification, ProofOfDeletion, RightsRequest, RightsRequestEvent, WithheldItem
from steward.rights.selectors import OPEN, due_soon_or_overdue, mis_owner_emails, reminder_emails, subject_in_school
from steward.sharing.selectors import disclosures_of_subject
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope


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
    actor: Actor,
    note: str = "",
    requester_email: str = "",
) -> RightsRequest:
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": "a request cannot be received in the future"})
    _require_subject_in_school(school.pk, subject_kind, subject_id)
    request: RightsRequest = RightsRequest.objects.create(
        school=school,
        kind=kind,
        subject_kind=subject_kind,
        subject_id=subject_id,
        subject_label=subject_label,
        requested_by=requested_by,
        requester_email=requester_email.strip(),
        received_on=received_on,
        deadline=response_deadline(received_on),
    )
    _event(request, "logged", actor.label, note)
    _audit(actor, request, "logged", kind=kind)
    return request


@transaction.atomic
def request_extend(*, request: RightsRequest, to: dt.date, reason: str, actor: Actor) -> RightsRequest:
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
    _event(request, "extended", actor.label, reason)
    _audit(actor, request, "extend", to=str(to))
    return request


@transaction.atomic
def request_mark_identity_checked(*, request: RightsRequest, actor: Actor) -> RightsRequest:
    request.identity_checked = True
    request.status = RightsRequest.Status.IN_PROGRESS
    request.save(update_fields=["identity_checked", "status"])
    _event(request, "identity_checked", actor.label)
    _audit(actor, request, "identity")
    return request


@transaction.atomic
def access_bundle(*, request: RightsRequest, actor: Actor, out: IO[bytes]) -> list[str]:
    """Write the subject-access zip to `out` for the DPO to read, without what was withheld.

    The zip holds the JSON and HTML, written at once; the PDF of the same document is made in the
    background and offered on the request's page when ready (`pdf_jobs`). Downloading is not
    answering: the request completes only when the bundle is sent (`access_send`) or "no data
    held" is decided (`access_no_data`)."""
    _require(request, RightsRequest.Kind.ACCESS)
    _subject(request)
    document = bundle.gather(request, _withheld_sections(request))
    found = bundle.tables(document)  # read as words once, for the HTML and the PDF
    names = bundle.write_bundle(document, out, pdf=False, found=found)
    pdf_jobs.prepare(request, document, found)
    _event(request, "downloaded", actor.label, "a copy for review")
    _audit(actor, request, "bundle", files=names)
    return names


def _withheld_sections(request: RightsRequest) -> frozenset[str]:
    return frozenset(WithheldItem.objects.filter(request=request).values_list("section", flat=True))


@transaction.atomic
def access_withhold(*, request: RightsRequest, section: str, reason: str, actor: Actor) -> WithheldItem:
    """Withhold one section of the bundle at review, for a recorded reason (third-party data,
    safeguarding): it is left out of what is sent, and the reason stays in the school's record."""
    _require(request, RightsRequest.Kind.ACCESS)
    _require_open(request)
    if not reason.strip():
        raise ValidationError({"withhold_reason": "Enter why this part is withheld, for example third-party data"})
    held = {model for exported in bundle.gather(request)["held"].values() for model in exported}
    if section not in held:
        raise ValidationError({"withhold_section": "Choose a part of the bundle that holds data"})
    if WithheldItem.objects.filter(request=request, section=section).exists():
        raise ValidationError({"withhold_section": "That part is already withheld"})
    item: WithheldItem = WithheldItem.objects.create(
        school_id=request.school_id, request=request, section=section, reason=reason.strip(), actor_label=actor.label
    )
    _event(request, "withheld", actor.label, f"{readable.heading(section)}: {reason.strip()}")
    _audit(actor, request, "withhold", section=section)
    return item


def _require_reply(request: RightsRequest, method: str, email: str) -> str:
    """Where the answer goes: an email address, or the post (the office prints and posts it)."""
    if not request.identity_checked:
        raise ValidationError({"identity_checked": "Check the requester's identity before sending anything"})
    if method == "post":
        return ""
    if method != "email":
        raise ValidationError({"method": "Choose how the answer is sent: by email or by post"})
    try:
        validate_email(email.strip())
    except ValidationError:
        raise ValidationError({"email": "Enter the requester's email address, like name@example.com"}) from None
    return email.strip()


@transaction.atomic
def access_send(*, request: RightsRequest, method: str, email: str, actor: Actor) -> RightsRequest:
    """Answer the request: email the reviewed bundle to the requester (through the configured mail
    backend, after commit) or record that it went by post; this, not a download, completes it.

    A bundle with nothing in it is refused: answering "nothing" needs the explicit, recorded
    decision of `access_no_data`, so a mistyped subject can no longer be answered with an empty zip.
    """
    _require(request, RightsRequest.Kind.ACCESS)
    _require_open(request)
    address = _require_reply(request, method, email)
    document = bundle.gather(request, _withheld_sections(request))
    if not bundle.holds_data(document):
        raise ValidationError(
            {"method": "Steward holds no data about this person: record that decision instead of sending a bundle"}
        )
    out = io.BytesIO()
    names = bundle.write_bundle(document, out)
    if address:
        message = EmailMessage(
            subject=f"Your request for your personal data, from {request.school.name}",
            body=(
                f"Dear {request.requested_by},\n\nYou asked {request.school.name} on {request.received_on:%d %B %Y} "
                f"for the personal data it holds about {request.subject_label}. It is attached: open bundle.html "
                "in a web browser, or print bundle.pdf.\n\nThe attachment also explains why the information is "
                "used, who receives it, how long it is kept, where it came from, and your rights, including the "
                "right to complain to the Information Commissioner's Office.\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
        )
        message.attach(f"personal-data-{request.id}.zip", out.getvalue(), "application/zip")
        transaction.on_commit(partial(message.send, fail_silently=False))
    if address:
        request.requester_email = address
        request.save(update_fields=["requester_email"])
    how = f"emailed to {address}" if address else "marked sent by post"
    _complete(request, actor.label, f"bundle {how}: {', '.join(names)}")
    _audit(actor, request, "send", method=method, files=names)
    return request


@transaction.atomic
def access_no_data(*, request: RightsRequest, method: str, email: str, actor: Actor) -> RightsRequest:
    """Record the decision "we hold no data about this person", who made it and when, and tell the
    requester so. Refused while anything is held: then the bundle is what must be sent."""
    _require(request, RightsRequest.Kind.ACCESS)
    _require_open(request)
    address = _require_reply(request, method, email)
    document = bundle.gather(request, _withheld_sections(request))
    if bundle.holds_data(document):
        raise ValidationError({"no_data": "Data is held about this person: review and send the bundle instead"})
    letter = (
        f"Dear {request.requested_by},\n\nYou asked {request.school.name} on {request.received_on:%d %B %Y} "
        f"for the personal data it holds about {request.subject_label}. We have searched the school's records "
        "held in Steward and we hold no personal data about this person.\n\n"
        f"{article15.COMPLAINT}\n"
    )
    if address:
        transaction.on_commit(
            partial(send_email, address, f"Your request for your personal data, from {request.school.name}", letter)
        )
    how = f"told by email ({address})" if address else "told by post"
    _complete(request, actor.label, f"we hold no data about this person; requester {how}")
    _audit(actor, request, "no_data", method=method)
    return request


@transaction.atomic
def request_acknowledge(*, request: RightsRequest, parent_email: str) -> None:
    """A request made in the parent portal: tell the school's DPO (and administrators) that there is
    one to answer, and acknowledge it to the parent with its statutory due date. The DPO's email
    names no one: the details stay behind sign-in. Sent after commit."""
    subject = f"{request.school.name}: a new {request.get_kind_display().lower()} request from the parent portal"
    body = (
        f"A {request.get_kind_display().lower()} request (request {request.id}) was made in the parent portal on "
        f"{request.received_on:%d %B %Y}. It must be answered by {request.due:%d %B %Y}.\n\n"
        f"Open it in Steward: {settings.STEWARD_BASE_URL}/school/rights/{request.id}/\n"
    )
    for address in reminder_emails(request.school_id):
        transaction.on_commit(partial(send_email, address, subject, body))
    if parent_email:
        acknowledgement = (
            f"{request.school.name} has received your {request.get_kind_display().lower()} request, made on "
            f"{request.received_on:%d %B %Y}.\n\nThe school must answer by {request.due:%d %B %Y}. It may first "
            "check who you are. If the request is complex the school may extend this by up to two months, and "
            "will tell you why.\n"
        )
        transaction.on_commit(
            partial(send_email, parent_email, f"{request.school.name} has received your request", acknowledgement)
        )
    _event(request, "acknowledged", "Steward", "school's DPO notified; requester sent the due date")
    _audit(Actor.system(), request, "acknowledged", parent_told=bool(parent_email))


@transaction.atomic
def portability_bundle(*, request: RightsRequest, actor: Actor, out: IO[bytes]) -> list[str]:
    """Write the portable zip (CTF for a learner, JSON and CSV) to `out`; completes the request."""
    _require(request, RightsRequest.Kind.PORTABILITY)
    names = portability.write_portable(school=request.school, subject=_subject(request), out=out)
    _complete_or_note(request, actor.label, ", ".join(names))
    _audit(actor, request, "portable", files=names)
    return names


@transaction.atomic
def request_refuse(*, request: RightsRequest, reason: str, actor: Actor) -> RightsRequest:
    """Refuse (Art. 12(5): manifestly unfounded or excessive), with the reason the requester is told."""
    if not reason.strip():
        raise ValidationError({"reason": "record why the request is refused"})
    _require_open(request)
    _refuse(request, reason, actor.label)
    _audit(actor, request, "refuse")
    return request


def _refuse(request: RightsRequest, reason: str, actor_label: str) -> None:
    request.status = RightsRequest.Status.REFUSED
    request.completed_at = timezone.now()
    request.save(update_fields=["status", "completed_at"])
    _event(request, "refused", actor_label, reason.strip())


@transaction.atomic
def request_complete(*, request: RightsRequest, note: str, actor: Actor) -> RightsRequest:
    """Mark done by hand (a rectification made in the MIS that no batch has brought yet, say)."""
    _require_open(request)
    if not request.identity_checked:
        raise ValidationError({"identity_checked": "check the requester's identity first"})
    _complete(request, actor.label, note.strip())
    _audit(actor, request, "complete")
    return request


@transaction.atomic
def rectification_forward(*, request: RightsRequest, actor: Actor) -> list[str]:
    """Send the requested correction to the school's MIS owners: the MIS is the source of truth, so
    the correction is made there. The record's change version is kept, so the batch that brings the
    corrected record completes the request (`rectifications_corrected`). Returns the addresses."""
    _require(request, RightsRequest.Kind.RECTIFICATION)
    _require_open(request)
    row = subject_row(_subject(request))
    if row is None:
        raise ValidationError({"subject_id": "the school's MIS data holds no such record"})
    to = mis_owner_emails(request.school_id)
    if not to:
        raise ValidationError({"subject_id": "the school has no administrator or contact email to forward to"})
    asked = request.events.filter(action="logged").values_list("note", flat=True).first() or ""
    request.forwarded_version = row.change_version
    request.status = RightsRequest.Status.IN_PROGRESS
    request.save(update_fields=["forwarded_version", "status"])
    _event(request, "forwarded", actor.label, f"to {', '.join(to)}")
    _audit(actor, request, "forward", to=to)
    message = EmailMessage(
        subject=f"Correction requested for {request.subject_label} (rights request {request.id})",
        body=(
            f"{request.requested_by} asked {request.school.name} on {request.received_on:%d %B %Y} to correct "
            f"the record of {request.subject_label} ({request.get_subject_kind_display().lower()}, "
            f"MIS id {row.source_id}).\n\nWhat they asked for:\n{asked or '(see the request in Steward)'}\n\n"
            "Please check and correct the record in the school's MIS. Steward marks the request completed "
            f"when the next MIS batch brings the changed record. Respond by {request.due:%d %B %Y}.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    transaction.on_commit(message.send)
    return to


def on_batch_applied(event: BatchApplied) -> None:
    """Subscribed in the batch's transaction: a forwarded rectification is done when the MIS sends
    the corrected record (the MIS stays the source of truth), and holds exactly when the batch does."""
    rectifications_corrected(school_id=event.school_id, batch_id=event.batch_id)


def on_school_purging(event: SchoolPurging) -> None:
    """Subscribed in the purge's transaction: the erasure proofs are tenant rows tied to requests
    that name people, so they go with the school; their counts stay as retention's proofs."""
    keep_erasure_proofs(
        school_id=event.school_id,
        counts=[
            (model, rows, proof.created_at)
            for proof in ProofOfDeletion.objects.filter(school_id=event.school_id)
            for model, rows in sorted(proof.deleted.items())
        ],
    )


def rectifications_corrected(*, school_id: int, batch_id: object) -> list[int]:
    """After a batch: complete each forwarded rectification whose record the batch changed.

    Runs inside the batch's transaction and scope; one query per subject model, whatever the
    number of open requests.
    """
    completed: list[int] = []
    forwarded = RightsRequest.objects.filter(
        school_id=school_id,
        kind=RightsRequest.Kind.RECTIFICATION,
        status__in=(RightsRequest.Status.RECEIVED, RightsRequest.Status.IN_PROGRESS),
        forwarded_version__isnull=False,
    )
    for kind, model in SUBJECT_MODELS.items():
        changed = model.objects.filter(
            school_id=OuterRef("school_id"), pk=OuterRef("subject_id"), change_version__gt=OuterRef("forwarded_version")
        )
        for request in forwarded.filter(subject_kind=kind).filter(Exists(changed)).select_related("school"):
            _complete(request, "MIS", f"corrected in MIS batch {batch_id}")
            _audit(Actor.system("MIS", organisation_id=school_id), request, "complete", batch=str(batch_id))
            completed.append(request.id)
    return completed


@transaction.atomic
def objection_decide(*, request: RightsRequest, upheld: bool, reason: str, actor: Actor) -> RightsRequest:
    """Art. 21: an upheld objection stops the processing (a restriction through every provider); a
    rejected one needs the compelling legitimate grounds recorded and is refused."""
    _require(request, RightsRequest.Kind.OBJECTION)
    _require_open(request)
    if not reason.strip():
        raise ValidationError({"reason": "record the grounds of the decision"})
    if not upheld:
        _refuse(request, f"objection not upheld: {reason}", actor.label)
        _audit(actor, request, "reject")
        return request
    _event(request, "objection_upheld", actor.label, reason.strip())
    _restrict(request, _subject(request), True, actor.label)
    _audit(actor, request, "uphold")
    return request


def erasure_preview(*, request: RightsRequest) -> dict[str, ErasureReport]:
    """What erasure would delete and what must be kept (and why), app by app; changes nothing."""
    _require(request, RightsRequest.Kind.ERASURE)
    subject = _subject(request)
    return {p.app_label: p.erase_subject(subject, dry_run=True) for p in providers()}


@transaction.atomic
def erasure_execute(*, request: RightsRequest, actor: Actor) -> ProofOfDeletion:
    """Erase through every provider; tell each recipient that had the data (Art. 19); keep a proof."""
    _require(request, RightsRequest.Kind.ERASURE)
    subject = _subject(request)
    held = _legal_hold(subject)
    if held:
        raise ValidationError({"subject_id": f"a legal hold stops erasure: {held}"})
    had_data = _recipients_that_had(subject)
    _publish_erased(subject)
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
    _complete(request, actor.label, f"erased; {len(had_data)} recipient(s) notified")
    _audit(actor, request, "erase", deleted=proof.deleted, recipients_notified=len(had_data))
    return proof


def _legal_hold(subject: Subject) -> str:
    row = subject_row(subject)
    return hold_on_subject(record_type=row.record_type, source_id=row.source_id) if row is not None else ""


def _publish_erased(subject: Subject) -> None:
    """Inside the erasure's transaction: retention records it so that restoring an older backup
    cannot bring the subject back (its replay log)."""
    row = subject_row(subject)
    if row is not None:
        publish(SubjectErased(school_id=row.school_id, record_type=row.record_type, source_id=row.source_id))


def _recipients_that_had(subject: Subject) -> dict[int, set[str]]:
    row = subject_row(subject)
    recipients: dict[int, set[str]] = {}
    if row is not None:
        for disclosure in disclosures_of_subject(school_id=row.school_id, source_id=row.source_id):
            recipients.setdefault(disclosure.recipient_id, set()).add(disclosure.record_type)
    return recipients


@transaction.atomic
def restriction_apply(*, request: RightsRequest, restricted: bool, actor: Actor) -> None:
    """Restrict (or lift): every provider stops processing the subject other than storing it."""
    _require(request, RightsRequest.Kind.RESTRICTION, RightsRequest.Kind.OBJECTION)
    _restrict(request, _subject(request), restricted, actor.label)
    _audit(actor, request, "restrict" if restricted else "lift")


def _restrict(request: RightsRequest, subject: Subject, restricted: bool, actor_label: str) -> None:
    for provider in providers():
        provider.restrict_subject(subject, restricted=restricted)
    _event(request, "restricted" if restricted else "restriction_lifted", actor_label)
    if restricted and request.status in OPEN:
        _complete(request, actor_label, "restricted until lifted")


def _require(request: RightsRequest, *kinds: str) -> None:
    if request.kind not in kinds:
        raise ValidationError({"kind": f"this is a {request.get_kind_display()} request"})
    if not request.identity_checked:
        raise ValidationError({"identity_checked": "check the requester's identity first"})


def _subject(request: RightsRequest) -> Subject:
    """The request's subject, checked again at every action: the subject may have left the school
    since the request was logged (or a request was logged before the check existed)."""
    _require_subject_in_school(request.school_id, request.subject_kind, request.subject_id)
    return bundle.subject_of(request)


class SubjectNotInSchool(ValidationError):
    """The subject is not this school's: nobody at this school may act on them."""


def _require_subject_in_school(school_id: int, subject_kind: str, subject_id: int) -> None:
    if not subject_in_school(school_id=school_id, subject_kind=subject_kind, subject_id=subject_id):
        label = dict(RightsRequest.SubjectKind.choices).get(subject_kind, subject_kind).lower()
        raise SubjectNotInSchool({"subject_id": f"this school has no {label} with record id {subject_id}"})


def _require_open(request: RightsRequest) -> None:
    if request.status not in OPEN:
        raise ValidationError({"status": f"the request is already {request.get_status_display().lower()}"})


def _complete_or_note(request: RightsRequest, actor_label: str, note: str) -> None:
    if request.status in OPEN:
        _complete(request, actor_label, note)
    else:
        _event(request, "sent_again", actor_label, note)


def _complete(request: RightsRequest, actor_label: str, note: str) -> None:
    request.status = RightsRequest.Status.COMPLETED
    request.completed_at = timezone.now()
    request.save(update_fields=["status", "completed_at"])
    _event(request, "completed", actor_label, note)


def _audit(actor: Actor, request: RightsRequest, verb: str, **detail: object) -> None:
    """The audit event of a command, named as the back office's action buttons are."""
    audit_action(
        actor,
        action=f"rights_request_{verb}",
        school_id=request.school_id,
        object_type="rights.RightsRequest",
        object_ids=[request.pk],
        purpose="subject rights",
        detail=detail or None,
    )


def _event(request: RightsRequest, action: str, actor_label: str, note: str = "") -> None:
    RightsRequestEvent.objects.create(
        school_id=request.school_id, request=request, action=action, actor_label=actor_label, note=note
    )


def reminders_send(*, today: dt.date) -> int:
    """Tell each school's DPO and administrators about requests due within a week or overdue.

    Each request is in at most one reminder a day: the reminder is recorded as an event and
    `due_soon_or_overdue` leaves out requests reminded today, so a re-run sends nothing. The email
    names no one: it points to the back office, where the details stay behind sign-in. Returns the
    number of requests reminded about.
    """
    reminded = 0
    with estate_scope():
        by_school: dict[int, list[RightsRequest]] = {}
        for request in due_soon_or_overdue(today=today):
            by_school.setdefault(request.school_id, []).append(request)
        names = dict(Organisation.objects.filter(pk__in=by_school).values_list("id", "name"))
        events = []
        for school_id, requests in by_school.items():
            to = reminder_emails(school_id)
            if not to:
                continue
            lines = [
                f"- {r.get_kind_display()} request {r.id}, received {r.received_on:%d %B %Y}: due {r.due:%d %B %Y}"
                + (" (OVERDUE)" if r.due < today else "")
                for r in requests
            ]
            subject = f"{names[school_id]}: {len(requests)} rights request(s) due soon or overdue"
            body = (
                "These subject rights requests need an answer by their statutory deadline:\n\n"
                + "\n".join(lines)
                + f"\n\nOpen them in Steward: {settings.STEWARD_BASE_URL}/school/rights/\n"
            )
            for address in to:
                transaction.on_commit(partial(send_email, address, subject, body))
            events += [
                RightsRequestEvent(
                    school_id=school_id, request=r, action="reminder_sent", actor_label="Steward", note=", ".join(to)
                )
                for r in requests
            ]
            reminded += len(requests)
        RightsRequestEvent.objects.bulk_create(events)
        for event in events:
            _audit(Actor.system(), event.request, "reminded", to=event.note)
    return reminded
