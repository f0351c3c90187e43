"""Contract termination: a complete export for the school, a confirmation window, a verified purge and a
certificate of deletion.

The purge does not pick tables by hand: it walks every `TenantModel` (children before parents) and
the few shared tables that name the school, in one transaction under the school's tenant scope, then
counts every one of them again and refuses to commit unless each count is 0. A shared table is
declared by the app that owns it (`register.retention_targets.SchoolRows`: the portal's links).
Steward accounts whose only roles were at the school go with their memberships; anyone with a role
elsewhere stays. Kept: the processor's accountability records (`KEPT`), which hold no personal data
of the school's subjects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import zipfile
from functools import partial
from graphlib import TopologicalSorter
from pathlib import Path
from typing import IO, Any, cast

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from psycopg import sql

from steward.audit.services import audit_record
from steward.core.csvsafe import safe_column
from steward.core.events import publish
from steward.core.files import export_storage
from steward.ingest.exports import ctf_export
from steward.mis.versions import lock_school_versions
from steward.notifications.email import send_email
from steward.register.retention_targets import school_rows
from steward.retention.events import SchoolPurging, TerminationStarted
from steward.retention.models import BackupCopy, ContractTermination, LegalHold, RestoreReplay, RetentionProof
from steward.retention.termination_notice import termination_email, window_days
from steward.tenancy.models import ApiClient, Contract, Membership, Organisation, TenantModel, User
from steward.tenancy.scope import processor_scope, tenant_scope
from steward.tenancy.selectors import data_protection_emails

# What a purge keeps, and why: the processor's proof of what it did (no personal data of the school's
# subjects), the organisation and contract rows those proofs name, and the append-only audit chain,
# which the register keeps for its own period.
KEPT = {
    "retention.retentionproof": "proof of deletion (counts only)",
    "retention.contracttermination": "the certificate of deletion",
    "retention.restorereplay": "re-applies the purge if an older backup is restored",
    "retention.backupcopy": "each backup is deleted on its date, its row kept as proof; a restore replays the purge",
    "tenancy.organisation": "the school's name and DfE numbers, which the proofs name",
    "tenancy.contract": "the processor's business record of the contract",
    "audit.auditevent": "the append-only, hash-chained audit log, kept for its own period",
}


def store_export(*, school: Organisation, name: str, actor_label: str) -> tuple[str, str, int]:
    """Write the school's export (`write_export`) to a scratch file, then put it in the file store
    (`core.files.export_storage`: the termination folder or the bucket), so whichever web machine the
    school reaches can hand it over. Its stored name, sha256 and size."""
    with tempfile.TemporaryDirectory(prefix="steward-export-") as scratch:
        path = Path(scratch) / name
        digest, size = write_export(school=school, path=path, actor_label=actor_label)
        with path.open("rb") as written:
            stored = export_storage().save(name, File(written, name=name))
    return stored, digest, size


def open_export(termination: ContractTermination) -> IO[bytes]:
    """The stored export as a stream (`FileNotFoundError` when it is gone). An export written before
    the file store (its absolute path recorded) is read from that path."""
    if os.path.isabs(termination.export_file):
        return Path(termination.export_file).open("rb")
    return cast(IO[bytes], export_storage().open(termination.export_file, "rb"))


def _delete_export(name: str) -> None:
    if os.path.isabs(name):
        Path(name).unlink(missing_ok=True)
    elif name:
        export_storage().delete(name)


def tenant_models() -> list[type[Model]]:
    """Every tenant table's model, children before the parents they refer to (the order to delete in)."""
    models = [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy]
    graph: dict[type[Model], set[type[Model]]] = {m: set() for m in models}
    for child in models:
        for f in child._meta.concrete_fields:
            parent = f.related_model
            if f.is_relation and parent in graph and parent is not child:
                graph[parent].add(child)  # type: ignore[index]
    return list(TopologicalSorter(graph).static_order())


def termination_start(
    *, contract: Contract, requested_by: str, reason: str, now: dt.datetime | None = None
) -> ContractTermination:
    """End the contract for the reason given, write the school's complete export, and tell the school's
    administrators and DPO (after commit) where to download it and when the purge may start."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Enter why the contract is ending"})
    school = contract.school
    # Terminations are the processor's records (row-level security shows them to no one else but
    # the school itself): read and written under the processor scope.
    with processor_scope():
        if ContractTermination.objects.filter(school=school, purged_at__isnull=True).exists():
            raise ValidationError({"contract": "this school's termination is already under way"})
        Contract.objects.filter(pk=contract.pk).update(
            status=Contract.Status.ENDED, end_date=contract.end_date or max(now.date(), contract.start_date)
        )
        termination: ContractTermination = ContractTermination.objects.create(
            school=school,
            contract=contract,
            requested_by=requested_by,
            requested_at=now,
            reason=reason,
            purge_not_before=now + dt.timedelta(days=window_days()),
        )
    stored, digest, size = store_export(
        school=school, name=f"{school.urn}-{termination.pk}.zip", actor_label=requested_by
    )
    with tenant_scope([school.id]), processor_scope():
        notify = data_protection_emails(school_id=school.id)
        ContractTermination.objects.filter(pk=termination.pk).update(
            export_file=stored, export_bytes=size, export_sha256=digest, notified=notify
        )
        termination.refresh_from_db()
        publish(
            TerminationStarted(
                school_id=school.id, termination_id=termination.pk, purge_not_before=termination.purge_not_before
            )
        )
        audit_record(
            action="termination_start",
            actor_label=requested_by,
            school_id=school.id,
            object_type="retention.ContractTermination",
            object_ids=[termination.pk],
            detail={"reason": reason, "purge_not_before": termination.purge_not_before.isoformat(), "told": notify},
        )
        subject, body = termination_email(termination)
        for address in notify:
            transaction.on_commit(partial(send_email, address, subject, body))
    return termination


def write_export(*, school: Organisation, path: Path, actor_label: str) -> tuple[str, int]:
    """A zip of the school's learners as CTF, and every tenant table as CSV (COPY) and JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ctf.xml", ctf_export(school=school, actor_label=actor_label, purpose="contract termination"))
        with tenant_scope([school.id]):
            raw = connection.connection
            for model in tenant_models():
                table = model._meta.db_table
                select = sql.SQL("SELECT * FROM {} WHERE school_id = {} ORDER BY id").format(
                    sql.Identifier(table), sql.Literal(school.id)
                )
                csv_select = _csv_select(raw, table, school.id)
                copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(csv_select)
                with archive.open(f"csv/{table}.csv", "w") as out, raw.cursor() as cur, cur.copy(copy_sql) as copy:
                    for chunk in copy:
                        out.write(chunk)
                counts[table] = _write_json(raw, archive, table, select)
            audit_record(
                action="termination_export",
                actor_label=actor_label,
                school_id=school.id,
                object_type="retention.ContractTermination",
                detail={"tables": len(counts), "rows": sum(counts.values())},
            )
        archive.writestr("manifest.json", json.dumps({"school_urn": school.urn, "rows": counts}, indent=2))
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def _csv_select(raw: Any, table: str, school_id: int) -> sql.Composed:
    """The table's rows for its CSV, which the school's staff open in a spreadsheet: every column, in
    the table's order, with text columns made inert where a spreadsheet would run them
    (`core.csvsafe`, in SQL so COPY still streams). The JSON beside it is exact, for loading elsewhere."""
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, NULL) IN ('text', 'character varying') FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [table],
        )
        columns = cursor.fetchall()
    items = [safe_column(name) if text else sql.Identifier(name) for name, text in columns]
    return sql.SQL("SELECT {} FROM {} WHERE school_id = {} ORDER BY id").format(
        sql.SQL(", ").join(items), sql.Identifier(table), sql.Literal(school_id)
    )


def _write_json(raw: Any, archive: zipfile.ZipFile, table: str, select: sql.Composed) -> int:
    """A JSON array, one object per row, streamed from a server-side cursor (PostgreSQL writes the JSON)."""
    rows = 0
    with archive.open(f"json/{table}.json", "w") as out, raw.cursor(name=f"export_{table}") as cursor:
        cursor.itersize = 5000
        cursor.execute(sql.SQL("SELECT row_to_json(t)::text FROM ({}) t").format(select))
        out.write(b"[")
        for (line,) in cursor:
            out.write((b",\n" if rows else b"\n") + line.encode())
            rows += 1
        out.write(b"\n]\n")
    return rows


def termination_purge(
    *,
    termination: ContractTermination,
    confirmed_by: str,
    now: dt.datetime | None = None,
    override_window: bool = False,
) -> ContractTermination:
    """After the window (or with an explicit, recorded override): delete every row of the school, verify, certify."""
    now = now or timezone.now()
    if termination.purged_at:
        raise ValidationError({"termination": "this school has already been purged"})
    if now < termination.purge_not_before and not override_window:
        raise ValidationError({"termination": f"the school has until {termination.purge_not_before:%d %B %Y}"})
    school_id = termination.school_id
    with tenant_scope([school_id]), processor_scope():
        holds = list(LegalHold.objects.filter(lifted_at__isnull=True).values_list("reason", flat=True))
        if holds:
            raise ValidationError({"termination": f"a legal hold stops the purge: {'; '.join(holds)}"})
        publish(SchoolPurging(school_id=school_id, at=now))
        deleted = purge_rows(school_id=school_id)
        RestoreReplay.objects.filter(school_id=school_id).delete()  # the purge entry covers them all
        RestoreReplay.objects.create(kind=RestoreReplay.Kind.SCHOOL_PURGE, school_id=school_id, at=now)
        left = rows_left(school_id=school_id)
        if any(left.values()):
            raise RuntimeError(f"purge left rows of school {school_id}: { {t: n for t, n in left.items() if n} }")
        policy = f"Contract termination ({termination.contract.reference})"
        RetentionProof.objects.bulk_create(
            RetentionProof(
                run=RetentionProof.Run.TERMINATION, school_id=school_id, policy=policy, what=t, rows=n, at=now
            )
            for t, n in deleted.items()
            if n
        )
        ContractTermination.objects.filter(pk=termination.pk).update(
            confirmed_by=confirmed_by,
            purged_at=now,
            window_overridden=override_window and now < termination.purge_not_before,
            deleted=deleted,
            verified=True,
            verification=left,
            export_file="",
        )
        audit_record(
            action="termination_purge",
            actor_label=confirmed_by,
            school_id=school_id,
            object_type="retention.ContractTermination",
            object_ids=[termination.pk],
            detail={"rows": sum(deleted.values()), "verified": True},
        )
    if termination.export_file:
        _delete_export(termination.export_file)
    with processor_scope():
        termination.refresh_from_db()
    return termination


def purge_rows(*, school_id: int) -> dict[str, int]:
    """Delete every row of the school, set-based, in dependency order (inside its tenant scope).

    Under the school's version lock: a batch still open would otherwise commit its rows after the
    purge counted none."""
    lock_school_versions(school_id=school_id)
    deleted: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model in tenant_models():
            table = model._meta.db_table
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE school_id = %s").format(sql.Identifier(table)).as_string(), [school_id]
            )
            deleted[table] = cursor.rowcount
    # Shared tables that name the school (a parent's links), declared by the apps that own them.
    for rows in school_rows():
        deleted.update(rows.purge(school_id))
    clients = ApiClient.objects.filter(school_id=school_id)
    deleted[ApiClient._meta.db_table] = clients.count()
    from oauth2_provider.models import get_application_model

    get_application_model().objects.filter(steward_client__in=clients).delete()
    members = list(Membership.objects.filter(organisation_id=school_id).values_list("user_id", flat=True))
    deleted[Membership._meta.db_table] = (
        Membership.objects.filter(organisation_id=school_id).delete()[1].get(Membership._meta.label, 0)
    )
    deleted[User._meta.db_table] = _delete_orphaned_users(members)
    return deleted


def _delete_orphaned_users(user_ids: list[int]) -> int:
    """Delete the accounts whose only roles were at the purged school: never a user with a role elsewhere
    (another school, a trust, the processor) nor one of the processor's staff or superusers."""
    orphans = User.objects.filter(pk__in=user_ids, memberships__isnull=True, is_staff=False, is_superuser=False)
    count = orphans.count()
    orphans.delete()  # the ORM, for their authenticator devices, sessions and preferences that cascade
    return count


def rows_left(*, school_id: int) -> dict[str, int]:
    """COUNT of the school's rows in every tenant table and every shared table that names it."""
    left: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model in tenant_models():
            table = model._meta.db_table
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE school_id = %s").format(sql.Identifier(table)).as_string(),
                [school_id],
            )
            left[table] = cursor.fetchone()[0]
    for rows in school_rows():
        left.update(rows.count(school_id))
    left[ApiClient._meta.db_table] = ApiClient.objects.filter(school_id=school_id).count()
    left[Membership._meta.db_table] = Membership.objects.filter(organisation_id=school_id).count()
    return left


def _backups_line(school_id: int) -> str:
    """When the last backup holding the school's data is destroyed: the newest such copy's end of period.

    The purge reaches the live database only; until then a restore re-applies it (the replay log)."""
    last = (
        BackupCopy.objects.filter(school_ids__contains=[school_id], deleted_at__isnull=True)
        .order_by("-kept_until")
        .values_list("kept_until", flat=True)
        .first()
    )
    if last is None:
        return "Backups: no backup still kept holds the school's data"
    return (
        f"Backups: the last backup holding the school's data will be destroyed on {timezone.localtime(last):%Y-%m-%d} "
        "(unless a legal hold on the school is then in force); a restore before that re-applies this purge"
    )


def certificate_text(termination: ContractTermination) -> str:
    """The certificate of deletion as plain text: tables, counts, times, who confirmed. No personal data."""
    school = termination.school
    lines = [
        "CERTIFICATE OF DELETION",
        f"School: {school.name} (URN {school.urn}, DfE {school.dfe_number})",
        f"Contract: {termination.contract.reference}",
        f"Export made available: {termination.requested_at:%Y-%m-%d %H:%M %Z}",
        f"Purged: {termination.purged_at:%Y-%m-%d %H:%M %Z}" if termination.purged_at else "Purged: not yet",
        f"Confirmed by: {termination.confirmed_by}",
        f"Confirmation window overridden: {'yes' if termination.window_overridden else 'no'}",
        f"Verification: {'every table counted 0 rows of the school' if termination.verified else 'NOT VERIFIED'}",
        "",
        "Rows deleted per table:",
        *(f"  {table}: {rows}" for table, rows in sorted(termination.deleted.items())),
        f"  total: {sum(termination.deleted.values())}",
        "",
        _backups_line(school.pk),
        "",
        "Kept:",
        *(f"  {label}: {why}" for label, why in KEPT.items()),
    ]
    return "\n".join(lines) + "\n"
