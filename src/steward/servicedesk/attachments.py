"""Files attached to tickets: checked, scanned, stored outside the web root, quarantined or redacted
by the school, and deleted with their ticket.

Every file of a post is checked before anything is written (size, count, type by signature, a zip
bomb), and one bad file refuses the whole post with its name and why: the ticket or reply and its
files are saved together or not at all. The bytes go to the file store (`core.files`: the folder
`STEWARD_ATTACHMENT_DIR`, never a path the web server serves, or a private S3-compatible bucket),
named by a random key; in the folder each is mode 0600, written to a temporary name and renamed, so
a reader never sees half a file, and the folder is made on the first write, not when the settings
load. Every web machine reads the same store, so a file uploaded through one downloads from another.
Rows are deleted by SQL (retention, the termination purge), so the files go after that transaction
commits (`delete_files_after_commit`): never before the rows, whose rollback
would leave rows naming no file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.services import audit_action
from steward.core.files import file_storage
from steward.retention.events import SchoolPurging
from steward.servicedesk import scanner
from steward.servicedesk.deciders import require_decider
from steward.servicedesk.models import AttachmentStatus, Ticket, TicketAttachment, TicketEvent, TicketMessage
from steward.tenancy.models import User

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_POST = 5
MAX_PER_TICKET = 10
NAME_MAX = 120
_KEY = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Upload:
    """One file as posted: its name as the browser sent it and at most `MAX_BYTES + 1` of its bytes."""

    name: str
    data: bytes
    size: int


@dataclass(frozen=True)
class Checked:
    name: str
    kind: str
    data: bytes
    findings: scanner.Findings


def read_uploads(files: Iterable[UploadedFile[Any]]) -> list[Upload]:
    """Read each posted file, never more than one byte past the limit (a larger file is refused by
    `check` with its real size, without being held in memory). Past the per-post count nothing is read:
    `check` refuses the post by its count alone."""
    uploads = []
    for number, f in enumerate(files):
        data = f.read(MAX_BYTES + 1) if (f.size or 0) <= MAX_BYTES and number < MAX_PER_POST else b""
        uploads.append(Upload(name=f.name or "", data=data, size=f.size if f.size is not None else len(data)))
    return uploads


def sanitise_name(name: str) -> str:
    """The file's own name, without any folder, control or unusual characters, at most 120 characters
    (its extension kept): shown on the page and offered on download, never used on disk."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = re.sub(r"[^\w .()+-]", "_", base, flags=re.ASCII).strip(" .")
    base = re.sub(r"_+", "_", base) or "attachment"
    if len(base) > NAME_MAX:
        stem, dot, ext = base.rpartition(".")
        base = f"{stem[: NAME_MAX - len(ext) - 1]}.{ext}" if dot and len(ext) < 10 else base[:NAME_MAX]
    return base


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check(uploads: Sequence[Upload], *, already: int = 0) -> list[Checked]:
    """Every file sniffed and scanned, or a `ValidationError` on `attachments` naming each file refused
    and why (nothing is written either way). Too many files are refused by their count before any is
    sniffed or scanned."""
    if len(uploads) > MAX_PER_POST:
        raise ValidationError(
            {"attachments": [f"Choose {MAX_PER_POST} files or fewer at a time (you chose {len(uploads)})"]}
        )
    if already + len(uploads) > MAX_PER_TICKET:
        left = MAX_PER_TICKET - already
        raise ValidationError(
            {
                "attachments": [
                    f"A request can have {MAX_PER_TICKET} attachments at most; this one has {already}, "
                    f"so you can add {max(left, 0)} more"
                ]
            }
        )
    errors: list[str] = []
    checked: list[Checked] = []
    for upload in uploads:
        name = sanitise_name(upload.name)
        if upload.size == 0:
            errors.append(f"{name} is empty")
        elif upload.size > MAX_BYTES or len(upload.data) > MAX_BYTES:
            errors.append(f"{name} is {_mb(upload.size)}: it must be smaller than {MAX_BYTES // (1024 * 1024)} MB")
        else:
            try:
                kind = scanner.sniff(upload.data, name)
                findings = scanner.scan_file(kind, upload.data)
            except scanner.Refused as refused:
                errors.append(f"{name} {refused}")
            else:
                checked.append(Checked(name=name, kind=kind, data=upload.data, findings=findings))
    if errors:
        raise ValidationError({"attachments": errors})
    return checked


# --- Storage --------------------------------------------------------------------------------------


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError("not an attachment storage key")
    return key


def store(data: bytes) -> str:
    """Write the bytes to the file store (`core.files`) under a new random key and return the key."""
    key = secrets.token_hex(32)
    saved = file_storage().save(key, ContentFile(data))
    if saved != key:  # a 256-bit random key already taken means the store is not what it seems
        file_storage().delete(saved)
        raise RuntimeError("the file store renamed a new attachment")
    return key


def open_stored(attachment: TicketAttachment) -> IO[bytes]:
    """The stored bytes as a stream (`FileNotFoundError` when they are gone), read in chunks."""
    return cast(IO[bytes], file_storage().open(_check_key(attachment.storage_key), "rb"))


def delete_files(keys: Iterable[str]) -> None:
    storage = file_storage()
    for key in keys:
        storage.delete(_check_key(key))


def delete_files_after_commit(keys: Iterable[str]) -> None:
    """Delete the files once the transaction that deleted their rows commits (never if it rolls back)."""
    kept = [k for k in keys if k]
    if kept:
        transaction.on_commit(partial(delete_files, kept))


def keys_of_tickets(ticket_ids: Iterable[str | int]) -> list[str]:
    return list(
        TicketAttachment.objects.filter(ticket_id__in=[int(i) for i in ticket_ids]).values_list(
            "storage_key", flat=True
        )
    )


def on_school_purging(event: SchoolPurging) -> None:
    """The school's rows are about to be purged: its files go once the purge commits."""
    delete_files_after_commit(
        TicketAttachment.objects.filter(school_id=event.school_id).values_list("storage_key", flat=True)
    )


# --- Saving with a ticket or a reply --------------------------------------------------------------


def save(
    checked: Sequence[Checked],
    *,
    ticket: Ticket,
    message: TicketMessage | None,
    uploader: User,
    actor: Actor,
    from_processor: bool,
    written: list[str],
    at: dt.datetime | None = None,
) -> list[TicketAttachment]:
    """Store each checked file and its row (inside the caller's transaction). Each key is appended to
    `written` as its file lands, so the caller deletes them if its transaction fails."""
    saved = []
    for item in checked:
        key = store(item.data)
        written.append(key)
        saved.append(
            TicketAttachment.objects.create(
                school_id=ticket.school_id,
                ticket=ticket,
                message=message,
                file_name=item.name,
                kind=item.kind,
                content_type=scanner.CONTENT_TYPES[item.kind],
                size=len(item.data),
                sha256=hashlib.sha256(item.data).hexdigest(),
                storage_key=key,
                uploaded_by=uploader,
                uploaded_by_label=actor.label,
                from_processor=from_processor,
                uploaded_at=at or timezone.now(),
                findings=item.findings.as_json(),
            )
        )
    if saved:
        audit_action(
            actor,
            action="ticket_attachment_upload",
            school_id=ticket.school_id,
            object_type="servicedesk.TicketAttachment",
            object_ids=[a.pk for a in saved],
            purpose="service desk",
            detail={"ticket": ticket.pk, "findings": {str(a.pk): a.findings.get("counts", {}) for a in saved}},
        )
    return saved


def text_warning(text: str) -> str:
    """The warning for a description or reply that looks like it holds personal data ("" when not)."""
    found = scanner.describe(scanner.scan_text(text).as_json())
    return f"What you wrote looks like it contains {found}. " if found else ""


# --- The school's decisions -----------------------------------------------------------------------


def _record(attachment: TicketAttachment, actor: Actor, action: str, words: str, **detail: object) -> None:
    TicketEvent.objects.create(
        school_id=attachment.school_id,
        ticket_id=attachment.ticket_id,
        action="attachment",
        actor_label=actor.label,
        at=attachment.status_at or timezone.now(),
        to_value=f"{attachment.file_name} {words}"[:200],
    )
    audit_action(
        actor,
        action=action,
        school_id=attachment.school_id,
        object_type="servicedesk.TicketAttachment",
        object_ids=[attachment.pk],
        purpose="service desk",
        detail={"ticket": attachment.ticket_id, **detail},
    )


@transaction.atomic
def quarantine(*, attachment: TicketAttachment, user: User, actor: Actor) -> TicketAttachment:
    """Only the school's admins and DPOs can download it from now on; the ICT service sees that the
    school quarantined it."""
    require_decider(user, attachment.school_id, str(attachment))
    if attachment.status != AttachmentStatus.AVAILABLE:
        raise ValidationError(f"{attachment.file_name} is already {attachment.get_status_display().lower()}")
    attachment.status = AttachmentStatus.QUARANTINED
    attachment.status_by_label = actor.label
    attachment.status_at = timezone.now()
    attachment.save(update_fields=["status", "status_by_label", "status_at"])
    _record(attachment, actor, "ticket_attachment_quarantine", "quarantined")
    return attachment


@transaction.atomic
def redact(*, attachment: TicketAttachment, user: User, actor: Actor) -> TicketAttachment:
    """A text or CSV file with each finding replaced by "[redacted]": the redacted file is stored under
    a new key, the row points to it, and the original file is deleted once this commits."""
    require_decider(user, attachment.school_id, str(attachment))
    if attachment.kind not in scanner.REDACTABLE:
        raise ValidationError(
            f"{attachment.file_name} is {scanner.KIND_WORDS.get(attachment.kind, 'a file')}: only text and CSV "
            "files can be redacted here. Quarantine it instead, and ask for a copy without the personal data"
        )
    if attachment.status == AttachmentStatus.REDACTED:
        raise ValidationError(f"{attachment.file_name} is already redacted")
    if attachment.is_quarantined:
        # Redacting would lift the quarantine (the ICT service could open the file again): the school
        # decided it stays closed, so that decision is not undone as a side effect.
        raise ValidationError(f"{attachment.file_name} is quarantined: it stays closed to the ICT service as it is")
    with open_stored(attachment) as stored:
        text = stored.read().decode("utf-8-sig")
    findings = scanner.scan_text(text)
    if findings.capped:
        raise ValidationError(
            f"{attachment.file_name} holds more than {scanner.MAX_PER_KIND:,} of one kind of finding: too many to "
            "redact here. Quarantine it instead"
        )
    data = scanner.redact(text, findings).encode("utf-8")
    old_key = attachment.storage_key
    new_key = store(data)
    try:
        attachment.storage_key = new_key
        attachment.size = len(data)
        attachment.sha256 = hashlib.sha256(data).hexdigest()
        attachment.status = AttachmentStatus.REDACTED
        attachment.status_by_label = actor.label
        attachment.status_at = timezone.now()
        attachment.findings = {**attachment.findings, "redacted": findings.counts()}
        attachment.save(
            update_fields=["storage_key", "size", "sha256", "status", "status_by_label", "status_at", "findings"]
        )
        _record(attachment, actor, "ticket_attachment_redact", "redacted", redacted=findings.counts())
    except BaseException:
        delete_files([new_key])
        raise
    delete_files_after_commit([old_key])
    return attachment
