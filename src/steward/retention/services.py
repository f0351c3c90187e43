"""Retention: the sweep that applies the register's rules, legal holds, backups and the erasure replay log.

The sweep deletes the querysets `selectors.school_targets` builds (the preview's), one school per
transaction, set-based, each through the delete its owning app declared (`register.retention_targets`:
MIS records go with tombstones so recipients hear of the deletion, the audit log is pruned by its owner). Every
deletion writes a `RetentionProof` (counts only) and a `RestoreReplay` entry, so that restoring a
backup older than the deletion can apply it again.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from steward.audit.services import audit_record
from steward.core.events import SubjectErased, publish
from steward.mis.privacy import SUBJECT_MODELS
from steward.mis.versions import lock_school_versions
from steward.register.models import RetentionRule
from steward.register.providers import Subject, providers
from steward.register.retention_targets import targets
from steward.retention.events import SubjectErasureReplayed
from steward.retention.models import BackupCopy, LegalHold, RestoreReplay, RetentionProof
from steward.retention.selectors import (
    SUBJECT_RECORD_TYPES,
    Target,
    _rules,
    processor_targets,
    school_targets,
)
from steward.tenancy.models import Organisation
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope

BACKUP_LONGEST_KEPT = dt.timedelta(days=2555)  # the register's seven years for the backup vault


def retention_sweep(
    *, today: dt.date, schools: list[Organisation], processor_wide: bool = True
) -> list[RetentionProof]:
    """Delete what the preview lists as due, school by school; returns the proofs written."""
    rules = _rules()
    proofs: list[RetentionProof] = []
    for school in schools:
        with tenant_scope([school.id]):
            # First, before the audit chain's lock that each target's proof takes (the lock order).
            lock_school_versions(school_id=school.id)
            proofs += [_apply(t) for t in school_targets(rules, school, today) if t.rows]
    if processor_wide:
        # The processor scope too: the audit log's prefix and the replay entries of no school.
        with estate_scope(), processor_scope():
            proofs += [_apply(t) for t in processor_targets(rules, today) if t.rows]
    return proofs


def _apply(target: Target) -> RetentionProof:
    school_id = target.school.id if target.school else None
    deleted = 0
    for qs in target.found.deletable:
        done = target.declared.delete(qs, school_id)
        if done.replay and done.ids:
            _replay(done.replay, school_id, done.replay_target, done.ids)
        deleted += done.rows
    proof = RetentionProof.objects.create(
        run=RetentionProof.Run.SWEEP,
        school_id=school_id,
        policy=policy_text(target.rule),
        category=target.declared.proof_category,
        what=target.what,
        rows=deleted,
    )
    audit_record(
        action="retention_delete",
        actor_label="retention sweep",
        school_id=school_id,
        object_type="retention.RetentionProof",
        object_ids=[proof.id],
        purpose=proof.policy,
        detail={"what": target.what, "rows": deleted},
    )
    return proof


def policy_text(rule: RetentionRule) -> str:
    return f"{rule.activity.name}: {rule.period_days} days {rule.get_trigger_display()}"


def _replay(kind: str, school_id: int | None, target: str, ids: list[str]) -> None:
    if ids:
        RestoreReplay.objects.create(kind=kind, school_id=school_id, target=target, source_ids=sorted(ids))


# Legal holds ---------------------------------------------------------------------------------------


def hold_place(
    *, school: Organisation, reason: str, placed_by: str, subject_kind: str = "", subject_source_id: str = ""
) -> LegalHold:
    """Stop deletion of one subject's records (or, with no subject, the whole school's) until lifted."""
    if subject_kind and subject_kind not in SUBJECT_RECORD_TYPES:
        raise ValidationError({"subject_kind": f"unknown subject kind {subject_kind!r}"})
    if not reason.strip():
        raise ValidationError({"reason": "say why the data must be kept"})
    with tenant_scope([school.id]):
        hold: LegalHold = LegalHold.objects.create(
            school=school,
            kind=LegalHold.Kind.SUBJECT if subject_kind else LegalHold.Kind.SCHOOL,
            subject_kind=subject_kind,
            subject_source_id=subject_source_id,
            reason=reason,
            placed_by=placed_by,
        )
        audit_record(
            action="legal_hold_placed",
            actor_label=placed_by,
            school_id=school.id,
            object_type="retention.LegalHold",
            object_ids=[hold.id],
        )
    return hold


def hold_lift(*, hold: LegalHold, lifted_by: str) -> None:
    with tenant_scope([hold.school_id]):
        LegalHold.objects.filter(pk=hold.pk, lifted_at__isnull=True).update(lifted_at=timezone.now())
        audit_record(
            action="legal_hold_lifted",
            actor_label=lifted_by,
            school_id=hold.school_id,
            object_type="retention.LegalHold",
            object_ids=[hold.id],
        )


# Backups and the replay log ------------------------------------------------------------------------


def backup_record(
    *,
    taken_at: dt.datetime,
    place: str,
    location: str,
    school_ids: list[int],
    kept_until: dt.datetime | None = None,
    sha256: str = "",
    size_bytes: int = 0,
    pg_version: str = "",
    store: str = "",
    kind: str = BackupCopy.Kind.DUMP,
    wal_start: str = "",
) -> BackupCopy:
    """Record a backup copy; it may be kept for at most the register's seven years.

    `steward backup create` calls this only once the file is complete, renamed and hashed."""
    longest = taken_at + BACKUP_LONGEST_KEPT
    kept_until = kept_until or longest
    if kept_until > longest:
        raise ValidationError({"kept_until": "a backup may be kept for at most seven years (the register)"})
    copy: BackupCopy = BackupCopy.objects.create(
        taken_at=taken_at,
        kept_until=kept_until,
        place=place,
        location=location,
        school_ids=sorted(school_ids),
        sha256=sha256,
        size_bytes=size_bytes,
        pg_version=pg_version,
        store=store,
        kind=kind,
        wal_start=wal_start,
    )
    detail: dict[str, object] = {"place": place, "schools": len(school_ids), "kept_until": kept_until.isoformat()}
    if sha256:
        detail.update(sha256=sha256, size_bytes=size_bytes)
    if store:
        detail.update(store=store)
    audit_record(
        action="backup_recorded",
        actor_label="backup",
        object_type="retention.BackupCopy",
        object_ids=[copy.pk],
        detail=detail,
    )
    return copy


def on_subject_erased(event: SubjectErased) -> None:
    """Subscribed inside the erasure's transaction: after a restore, the subject is found by MIS
    source id and erased again; the log entry exists exactly when the erasure does."""
    _replay(RestoreReplay.Kind.SUBJECT_ERASURE, event.school_id, event.record_type, [event.source_id])


def keep_erasure_proofs(*, school_id: int, counts: list[tuple[str, int, dt.datetime]]) -> None:
    """Keep the counts (model, rows, when) an erasure request deleted as the processor's own proofs,
    with no names in them, so that they survive the purge of the school at the end of its contract."""
    RetentionProof.objects.bulk_create(
        RetentionProof(
            run=RetentionProof.Run.ERASURE,
            school_id=school_id,
            policy="Erasure request (Art. 17)",
            what=what,
            rows=rows,
            at=at,
        )
        for what, rows, at in counts
    )


def keep_destruction_proof(
    *,
    school_id: int,
    policy: str,
    what: str,
    rows: int,
    run: str = RetentionProof.Run.EARLY,
    at: dt.datetime | None = None,
) -> RetentionProof:
    """A proof of one thing destroyed whole by its owning app (an investigation copy: early, when its
    consent is withdrawn; by the sweep; at a termination), which that app keeps a reference to:
    counts only, kept past the school's purge."""
    proof: RetentionProof = RetentionProof.objects.create(
        run=run, school_id=school_id, policy=policy, what=what, rows=rows, at=at or timezone.now()
    )
    return proof


def replay_after_restore(*, backup: BackupCopy) -> int:
    """Apply again, in order, every erasure and purge made after the restored backup was taken."""
    from steward.retention.termination import purge_rows

    with processor_scope():  # the replay log is the processor's, entries of no school included
        entries = list(RestoreReplay.objects.filter(at__gte=backup.taken_at).order_by("at", "id"))
    for entry in entries:
        assert entry.school_id is not None or entry.kind == RestoreReplay.Kind.ROWS  # noqa: S101
        # An entry of no school (rows of the processor's own records) replays across the estate.
        with tenant_scope([entry.school_id]) if entry.school_id else estate_scope(), processor_scope():
            if entry.kind == RestoreReplay.Kind.SCHOOL_PURGE and entry.school_id is not None:
                purge_rows(school_id=entry.school_id)
            else:
                _replay_entry(entry)
    with processor_scope():
        audit_record(
            action="restore_replayed",
            actor_label="backup restore",
            object_type="retention.BackupCopy",
            object_ids=[backup.pk],
            detail={"entries": len(entries), "taken_at": backup.taken_at.isoformat()},
        )
    return len(entries)


def _replay_entry(entry: RestoreReplay) -> None:
    """Erase a subject again through every provider; any other entry through the retention target
    that made it (`RetentionTarget.replay`); rows no target claims by plain id."""
    if entry.kind == RestoreReplay.Kind.SUBJECT_ERASURE:
        kind = next(k for k, t in SUBJECT_RECORD_TYPES.items() if t == entry.target)
        model = SUBJECT_MODELS[kind]
        for row in model.objects.filter(school_id=entry.school_id, source_id__in=entry.source_ids):
            subject = Subject(kind, row.pk, row.school_id)  # type: ignore[arg-type]
            for provider in providers():
                provider.erase_subject(subject, dry_run=False)
        # Copies of the school's data outside its tables (the service desk's investigation copies)
        # came back with the restore too, whether or not the MIS row did.
        school_id = entry.school_id
        if school_id is not None:
            for source_id in entry.source_ids:
                publish(SubjectErasureReplayed(school_id=school_id, record_type=entry.target, source_id=source_id))
        return
    if any(t.replay(entry.kind, entry.target, entry.source_ids, entry.school_id) for t in targets()):
        return
    if entry.kind != RestoreReplay.Kind.ROWS:
        raise LookupError(f"no retention target replays {entry.kind} of {entry.target}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(entry.target)} WHERE id = ANY(%s::bigint[])",  # noqa: S608  # nosec B608
            [entry.source_ids],
        )


def replay_prune(*, now: dt.datetime) -> int:
    """Forget replay entries older than every backup still kept: no restore can bring their rows back.

    A copy is kept until `backup_expire` deleted its file (a held one past `kept_until` still counts);
    the rows of deleted copies stay as the deletion's proof."""
    oldest = BackupCopy.objects.filter(deleted_at__isnull=True).order_by("taken_at").values_list("taken_at", flat=True)
    cutoff = oldest.first() or now
    with processor_scope():
        deleted, _ = RestoreReplay.objects.filter(at__lt=cutoff).exclude(kind=RestoreReplay.Kind.SCHOOL_PURGE).delete()
    return deleted
