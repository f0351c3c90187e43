"""Investigation copies: a copy of named MIS record types of a school, for one ticket, only with the
school's consent, and destroyed when it is no longer needed.

Why each rule:
- The processor's staff never enter a school's data; a fault that needs the data is investigated on a
  copy the school agreed to, holding only the record types it named (it may narrow the request).
- A standing consent (`consents.consent_in_force`) approves a request within its scope at once: every
  requested record type covered, the same recipient (and vendor), and pseudonymised. Real identities
  are only ever the school's decision on the ticket, recorded and audited.
- The copy is made by the same SQL copier as `steward pseudonymise` (`consents.pseudonymise`), into its
  own schema, pseudonymised with a key of its own that never enters the copy.
- It goes 90 days after the ticket is resolved (the register's `ticket_resolved` rule, applied by the
  retention sweep: `servicedesk.retention`), or earlier when the school withdraws its consent or the
  ticket closes with the copy no longer needed. Every destruction leaves a `retention.RetentionProof`,
  is audited, and the school's data protection contacts are emailed. Nothing brings a destroyed copy
  back: the row stays as the record, with no schema.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone
from psycopg import sql

from steward.audit.actor import Actor
from steward.audit.services import audit_action, audit_record
from steward.consents.events import ConsentWithdrawn
from steward.consents.models import Consent
from steward.consents.pseudonymise import check_schema_name, copy_into_schema, drop_copy, pseudonym
from steward.consents.services import consent_in_force
from steward.core.events import SubjectErased
from steward.mis.models import MODEL_BY_TYPE, RECORD_MODELS
from steward.mis.privacy import SUBJECT_MODELS
from steward.notifications.email import send_email
from steward.retention.events import SchoolPurging, SubjectErasureReplayed
from steward.retention.models import RetentionProof
from steward.retention.services import keep_destruction_proof
from steward.servicedesk import notify
from steward.servicedesk.models import CopiedPerson, CopyRecipient, CopyStatus, InvestigationCopy, Ticket
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import data_protection_emails

REASON_MAX = 2_000
_PURPOSE = "service desk investigation"
POLICY = "Service desk: investigation copy destroyed early"
# The proof each destruction keeps, by the run that destroyed the copy.
POLICIES = {
    RetentionProof.Run.EARLY: POLICY,
    RetentionProof.Run.SWEEP: "Service desk: investigation copy destroyed 90 days after its ticket was resolved",
    RetentionProof.Run.TERMINATION: "Service desk: investigation copy destroyed when the school's contract ended",
}


def schema_for(copy: InvestigationCopy) -> str:
    return f"investigation_{copy.school_id}_{copy.pk}"


def _audit(actor: Actor, copy: InvestigationCopy, action: str, **detail: object) -> None:
    audit_action(
        actor,
        action=action,
        school_id=copy.school_id,
        object_type="servicedesk.InvestigationCopy",
        object_ids=[copy.pk],
        purpose=_PURPOSE,
        detail={"ticket": copy.ticket_reference, **detail},
    )


def _record_types(errors: dict[str, str], record_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(record_types))
    unknown = [t for t in chosen if t not in MODEL_BY_TYPE]
    if not chosen:
        errors["record_types"] = "Choose at least one type of MIS record"
    elif unknown:
        errors["record_types"] = f"Unknown MIS record types: {', '.join(unknown)}"
    return chosen


@transaction.atomic
def copy_request(
    *,
    ticket: Ticket,
    reason: str,
    record_types: Iterable[str],
    recipient: str,
    actor: Actor,
    vendor_name: str = "",
    identities_requested: bool = False,
    now: dt.datetime | None = None,
) -> InvestigationCopy:
    """The processor's staff ask for a copy for an open ticket. A standing (or this ticket's) consent
    covering every record type for this recipient approves it at once, pseudonymised; otherwise the
    school's data protection contacts are asked. Call inside the ticket's school's scope."""
    errors: dict[str, str] = {}
    reason = reason.strip()
    if not reason:
        errors["reason"] = "Enter why the investigation needs a copy"
    elif len(reason) > REASON_MAX or "\x00" in reason:
        errors["reason"] = f"The reason must be {REASON_MAX} characters or fewer, of printable text"
    types = _record_types(errors, record_types)
    if recipient not in CopyRecipient.values:
        errors["recipient"] = "Choose who will see the copy"
    vendor_name = vendor_name.strip() if recipient == CopyRecipient.MIS_VENDOR else ""
    if recipient == CopyRecipient.MIS_VENDOR and not vendor_name:
        errors["vendor_name"] = "Name the MIS vendor that will see the copy"
    if errors:
        raise ValidationError(errors)
    if not ticket.is_open:
        raise ValidationError(f"{ticket.reference} is {ticket.get_status_display().lower()}: no copy for it")
    copy: InvestigationCopy = InvestigationCopy.objects.create(
        school_id=ticket.school_id,
        ticket=ticket,
        ticket_reference=ticket.reference,
        reason=reason,
        recipient=recipient,
        vendor_name=vendor_name,
        requested_types=types,
        identities_requested=identities_requested,
        requested_by_id=actor.user_id,
        requested_by_label=actor.label,
        requested_at=now or timezone.now(),
        secret_key=secrets.token_hex(32),
    )
    _audit(actor, copy, "investigation_copy_requested", record_types=types, recipient=recipient)
    consent = _covering_consent(copy, ticket.school)
    if consent is not None:
        _decide(copy, types, real_identities=False, decided_by=f"Consent {consent.pk} ({consent.get_kind_display()})")
        copy.consent = consent
        copy.save(update_fields=["consent"])
        _audit(actor, copy, "investigation_copy_approved", by_consent=consent.pk, record_types=types)
        transaction.on_commit(partial(_make_after_commit, copy.pk, copy.school_id, actor))
    else:
        _tell_school(
            copy,
            f"{copy.ticket_reference}: the ICT service asks for an investigation copy",
            f"The ICT service asks for a copy of these MIS records to investigate {copy.ticket_reference}: "
            f"{', '.join(types)}.\n\nWhy: {reason}\n\nApprove, narrow or refuse it in Steward, on the request's "
            "page under Service desk.\n",
        )
    return copy


def _covering_consent(copy: InvestigationCopy, school: Organisation) -> Consent | None:
    """The consent that approves this request as it stands, or None (then the school decides)."""
    if copy.identities_requested:
        return None  # a consent covers pseudonymised copies only: real identities are decided per ticket
    consent = consent_in_force(school, Consent.Purpose.INVESTIGATION, copy.recipient, copy.ticket_reference)
    if consent is None or not all(consent.covers(t) for t in copy.requested_types):
        return None
    if copy.recipient == CopyRecipient.MIS_VENDOR and consent.vendor_name.casefold() != copy.vendor_name.casefold():
        return None
    return consent


def _decide(
    copy: InvestigationCopy,
    types: list[str],
    *,
    real_identities: bool,
    decided_by: str,
    now: dt.datetime | None = None,
) -> None:
    copy.status = CopyStatus.LIVE
    copy.approved_types = types
    copy.real_identities = real_identities
    copy.decided_by_label = decided_by
    copy.decided_at = now or timezone.now()
    copy.save(update_fields=["status", "approved_types", "real_identities", "decided_by_label", "decided_at"])


def _pending(copy: InvestigationCopy) -> None:
    if copy.status != CopyStatus.REQUESTED:
        raise ValidationError(f"{copy.reference} is already decided: {copy.get_status_display().lower()}")
    if copy.ticket is None or not copy.ticket.is_open:
        raise ValidationError(f"{copy.ticket_reference} is no longer open: the request lapsed with it")


def copy_approve(
    *,
    copy: InvestigationCopy,
    record_types: Iterable[str],
    real_identities: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> InvestigationCopy:
    """The school's admin or DPO approves, with fewer record types if it chooses (never more), and
    real identities only when it ticks them. The copy is made once the decision commits."""
    errors: dict[str, str] = {}
    types = _record_types(errors, record_types)
    extra = sorted(set(types) - set(copy.requested_types))
    if extra and "record_types" not in errors:
        errors["record_types"] = f"The request did not ask for {', '.join(extra)}: the school may only narrow it"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _pending(copy)
        _decide(copy, types, real_identities=real_identities, decided_by=actor.label, now=now)
        _audit(
            actor,
            copy,
            "investigation_copy_approved",
            record_types=types,
            narrowed=sorted(set(copy.requested_types) - set(types)),
            real_identities=real_identities,
        )
    return make_copy(copy=copy, actor=actor, now=now)


@transaction.atomic
def copy_refuse(
    *, copy: InvestigationCopy, reason: str, actor: Actor, now: dt.datetime | None = None
) -> InvestigationCopy:
    """The school says no. The reason is on the ticket's page, and the processor user who asked (and
    the ticket's assignee, if someone else) is emailed it, so the investigation does not wait on a
    decision already made."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValidationError({"refusal_reason": f"Enter why (at most {REASON_MAX} characters)"})
    _pending(copy)
    copy.status = CopyStatus.REFUSED
    copy.refusal_reason = reason
    copy.decided_by_label = actor.label
    copy.decided_at = now or timezone.now()
    copy.save(update_fields=["status", "refusal_reason", "decided_by_label", "decided_at"])
    _audit(actor, copy, "investigation_copy_refused")
    notify.tell_processor(
        copy.ticket,
        copy.requested_by,
        f"{copy.ticket_reference}: the school refused the investigation copy",
        f"{copy.decided_by_label} refused {copy.reference}, the copy asked for to investigate "
        f"{copy.ticket_reference} ({', '.join(copy.requested_types)}).\n\nTheir reason: {reason}\n",
    )
    return copy


def make_copy(*, copy: InvestigationCopy, actor: Actor, now: dt.datetime | None = None) -> InvestigationCopy:
    """Copy the approved record types into the copy's own schema (the owner's connection, its own
    transaction), then record it with the people it holds; a copy nobody recorded must not exist, so
    a failure drops it."""
    schema = schema_for(copy)
    check_schema_name(schema)
    counts = copy_into_schema(
        school_id=copy.school_id,
        schema=schema,
        record_types=list(copy.approved_types),
        secret_key=copy.secret_key,
        real_identities=copy.real_identities,
    )
    try:
        with transaction.atomic():
            copy.schema_name = schema
            copy.made_at = now or timezone.now()
            copy.row_counts = counts
            copy.save(update_fields=["schema_name", "made_at", "row_counts"])
            people = people_in(copy)
            CopiedPerson.objects.bulk_create(
                CopiedPerson(school_id=copy.school_id, copy=copy, record_type=t, source_id=s) for t, s in sorted(people)
            )
            _audit(
                actor,
                copy,
                "investigation_copy_made",
                rows=counts,
                real_identities=copy.real_identities,
                people=len(people),
            )
    except BaseException:
        drop_copy(schema)
        raise
    return copy


def _make_after_commit(copy_id: int, school_id: int, actor: Actor) -> None:
    with tenant_scope([school_id]):
        copy = InvestigationCopy.objects.get(pk=copy_id)
        make_copy(copy=copy, actor=actor)


def destroy(
    copy: InvestigationCopy,
    *,
    because: str,
    actor: Actor | None = None,
    run: RetentionProof.Run = RetentionProof.Run.EARLY,
    now: dt.datetime | None = None,
) -> int:
    """Drop the copy's schema and keep the record of it, with a proof of its own (`run`: early, the
    sweep's or the termination's) that a person's access bundle can quote; the school is told.
    Returns the rows the copy held. Inside the copy's school's scope. A copy already destroyed
    stays so (0)."""
    if copy.status != CopyStatus.LIVE:
        return 0
    rows = live_rows(copy)
    if copy.schema_name:
        drop_copy(copy.schema_name)
    at = now or timezone.now()
    copy.status = CopyStatus.DESTROYED
    copy.destroyed_at = at
    copy.destroyed_because = because[:200]
    copy.destruction_proof = keep_destruction_proof(
        school_id=copy.school_id,
        policy=POLICIES[run],
        what=f"investigation copy {copy.reference} ({because})"[:200],
        rows=rows,
        run=run,
        at=at,
    )
    copy.save(update_fields=["status", "destroyed_at", "destroyed_because", "destruction_proof"])
    detail = {"ticket": copy.ticket_reference, "because": because, "rows": rows, "proof": copy.destruction_proof.pk}
    if actor is None:
        audit_record(
            action="investigation_copy_destroyed",
            actor_label="retention sweep",
            school_id=copy.school_id,
            object_type="servicedesk.InvestigationCopy",
            object_ids=[copy.pk],
            purpose=_PURPOSE,
            detail=detail,
        )
    else:
        _audit(actor, copy, "investigation_copy_destroyed", because=because, rows=rows, proof=detail["proof"])
    _tell_school(
        copy,
        f"{copy.ticket_reference}: the investigation copy is destroyed",
        f"The copy of your MIS records made for {copy.ticket_reference} ({copy.reference}, {rows} rows) was "
        f"destroyed on {timezone.localtime(copy.destroyed_at):%-d %B %Y} because {because}.\n",
    )
    return rows


@transaction.atomic
def copy_withdraw(*, copy: InvestigationCopy, actor: Actor, now: dt.datetime | None = None) -> InvestigationCopy:
    """The school withdraws its consent to this copy: destroyed at once (a pending request lapses)."""
    if copy.status == CopyStatus.REQUESTED:
        copy.status = CopyStatus.REFUSED
        copy.refusal_reason = "consent withdrawn before a decision"
        copy.decided_by_label = actor.label
        copy.decided_at = now or timezone.now()
        copy.save(update_fields=["status", "refusal_reason", "decided_by_label", "decided_at"])
        _audit(actor, copy, "investigation_copy_refused")
        return copy
    if copy.status != CopyStatus.LIVE:
        raise ValidationError(f"{copy.reference} is {copy.get_status_display().lower()}: nothing to withdraw")
    destroy(copy, because="the school withdrew its consent", actor=actor, now=now)
    return copy


def destroy_for_ticket(*, ticket: Ticket, because: str, actor: Actor, now: dt.datetime | None = None) -> int:
    """The ticket closed with its copies no longer needed: each live one goes now."""
    copies = InvestigationCopy.objects.filter(ticket=ticket, school_id=ticket.school_id, status=CopyStatus.LIVE)
    return sum(destroy(c, because=because, actor=actor, now=now) for c in copies)


def on_consent_withdrawn(event: ConsentWithdrawn) -> None:
    """A consent that approved copies is withdrawn: every live copy made under it is destroyed."""
    with tenant_scope([event.school_id]):
        for copy in InvestigationCopy.objects.filter(
            school_id=event.school_id, consent_id=event.consent_id, status=CopyStatus.LIVE
        ):
            destroy(copy, because="the school withdrew its consent", actor=Actor.system(event.withdrawn_by))


def on_school_purging(event: SchoolPurging) -> None:
    """The school's contract ended and its rows are about to go: its live copies are dropped with
    them (the schemas are not tenant tables, so the purge would not find them)."""
    for copy in InvestigationCopy.objects.filter(school_id=event.school_id, status=CopyStatus.LIVE):
        destroy(copy, because="the school's contract with the ICT service ended", run=RetentionProof.Run.TERMINATION)


def _tell_school(copy: InvestigationCopy, subject: str, body: str) -> None:
    for address in data_protection_emails(school_id=copy.school_id):
        transaction.on_commit(partial(send_email, address, subject, body))


# The copy's rows: counting, and the people in it -------------------------------------------------


def _tables(copy: InvestigationCopy) -> list[tuple[str, str]]:
    """(record type, table) of each table the live copy holds."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [copy.schema_name])
        present = {name for (name,) in cursor.fetchall()}
    return [(m.record_type, m._meta.db_table) for m in RECORD_MODELS if m._meta.db_table in present]


def live_rows(copy: InvestigationCopy) -> int:
    if copy.status != CopyStatus.LIVE or not copy.schema_name:
        return 0
    total = 0
    with connections["owner"].cursor() as cursor:
        for _, table in _tables(copy):
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(copy.schema_name, table)))
            total += cursor.fetchone()[0]  # type: ignore[index]
    return total


def _person_rows_sql(copy: InvestigationCopy, record_type: str, source_id: str) -> list[tuple[str, sql.Composable]]:
    """(record type, `<table> WHERE <column> = <id>`) for each table of the copy that holds the
    person or refers to them; the id as the copy holds it (the pseudonym, unless the copy keeps real
    identities), computed here with the copy's key, which the copy itself never holds."""
    tables = dict((t, r) for r, t in _tables(copy))
    found: list[tuple[str, sql.Composable]] = []
    for model in RECORD_MODELS:
        table = model._meta.db_table
        if table not in tables:
            continue
        columns = ["source_id"] if model.record_type == record_type else []
        columns += [c for c, t in model.references.items() if t == record_type]
        for column in columns:
            value = source_id if copy.real_identities else pseudonym(copy.secret_key, model, column, source_id)
            where = sql.SQL("{} WHERE {} = {}").format(
                sql.Identifier(copy.schema_name, table), sql.Identifier(column), sql.Literal(value)
            )
            found.append((model.record_type, where))
    return found


def person_rows(copy: InvestigationCopy, *, record_type: str, source_id: str) -> dict[str, int]:
    """How many rows of each record type in the live copy are the person's or about them."""
    counts: dict[str, int] = {}
    if copy.status != CopyStatus.LIVE or not copy.schema_name:
        return counts
    with connections["owner"].cursor() as cursor:
        for held_type, where in _person_rows_sql(copy, record_type, source_id):
            cursor.execute(sql.SQL("SELECT count(*) FROM ") + where)
            n = int(cursor.fetchone()[0])  # type: ignore[index]
            if n:
                counts[held_type] = counts.get(held_type, 0) + n
    return counts


def people_in(copy: InvestigationCopy) -> set[tuple[str, str]]:
    """(record type, MIS id) of every learner, contact and member of staff whose rows, or rows about
    whom, the live copy holds. A pseudonymised copy holds only tokens: each of the school's people
    is tokenised with the copy's key and matched, so the list is what the copy really holds."""
    held: set[tuple[str, str]] = set()
    subject_types = {m.record_type for m in SUBJECT_MODELS.values()}
    tables = {t for _, t in _tables(copy)}
    candidates: dict[str, list[str]] = {}
    with connections["owner"].cursor() as cursor:
        for model in RECORD_MODELS:
            table = model._meta.db_table
            if table not in tables:
                continue
            columns = [("source_id", model.record_type)] if model.record_type in subject_types else []
            columns += [(c, t) for c, t in model.references.items() if t in subject_types]
            for column, subject_type in columns:
                cursor.execute(
                    sql.SQL("SELECT DISTINCT {} FROM {}").format(
                        sql.Identifier(column), sql.Identifier(copy.schema_name, table)
                    )
                )
                values = {v for (v,) in cursor.fetchall() if v is not None}
                if copy.real_identities:
                    held.update((subject_type, v) for v in values)
                    continue
                if subject_type not in candidates:
                    subject_model = next(m for m in SUBJECT_MODELS.values() if m.record_type == subject_type)
                    candidates[subject_type] = list(
                        subject_model.objects.filter(school_id=copy.school_id).values_list("source_id", flat=True)
                    )
                held.update(
                    (subject_type, s)
                    for s in candidates[subject_type]
                    if pseudonym(copy.secret_key, model, column, s) in values
                )
    return held


def on_subject_erased(event: SubjectErased | SubjectErasureReplayed) -> None:
    """After an erasure commits (Art. 17, carried to this recipient by Art. 19): delete the person's
    rows, and every row about them, from each live copy of the school, and the record that they were
    in a copy. The same again after a backup restore, when retention replays the erasure (the restored
    database holds the copy's schema as it was before the erasure)."""
    with tenant_scope([event.school_id]):
        copies = list(InvestigationCopy.objects.filter(school_id=event.school_id, status=CopyStatus.LIVE))
        for copy in copies:
            deleted = 0
            with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
                for _, where in _person_rows_sql(copy, event.record_type, event.source_id):
                    cursor.execute(sql.SQL("DELETE FROM ") + where)
                    deleted += cursor.rowcount
            audit_record(
                action="investigation_copy_erasure",
                actor_label="erasure request" if isinstance(event, SubjectErased) else "backup restore",
                school_id=event.school_id,
                object_type="servicedesk.InvestigationCopy",
                object_ids=[copy.pk],
                purpose=_PURPOSE,
                detail={"record_type": event.record_type, "rows": deleted},
            )
        CopiedPerson.objects.filter(
            school_id=event.school_id, record_type=event.record_type, source_id=event.source_id
        ).delete()
