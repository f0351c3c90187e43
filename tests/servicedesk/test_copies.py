"""Investigation copies end to end on real PostgreSQL: requested for a ticket, approved (or narrowed, or
refused) by the school, approved by a standing consent within its scope, made pseudonymised into
its own schema (real identities only when the school allows them), destroyed 90 days after the
ticket is resolved and not before, kept by a whole-school legal hold, destroyed early when consent
is withdrawn, not brought back by reopening, reached by erasure, and listed in the access bundle."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.consents import services as consents
from steward.consents.pseudonymise import pseudonym
from steward.core.events import publish
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner
from steward.retention.events import SchoolPurging
from steward.retention.models import RestoreReplay, RetentionProof
from steward.retention.services import backup_record, hold_place, replay_after_restore, retention_sweep
from steward.rights import services as rights
from steward.rights.bundle import gather
from steward.servicedesk import copies, services
from steward.servicedesk.models import CopiedPerson, CopyStatus, InvestigationCopy, Ticket
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.notify_fixtures import SmtpSink

MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
DESK = ("hosted_mis", "service_desk")
ALL_TYPES = ["learners", "contacts", "learner-contacts", "session-attendance"]


def _records() -> dict[str, list[dict[str, Any]]]:
    return {
        "learners": [
            b.learner("L1", legal_forename="Zebedee", legal_surname="Quillfeather", date_of_birth="2015-03-02"),
            b.learner("L2", legal_forename="Ottoline", legal_surname="Marchbanks", date_of_birth="2016-07-09"),
        ],
        "contacts": [b.contact("C1", forename="Ottoline", surname="Quillfeather")],
        "learner-contacts": [b.link("LC1", "L1", "C1")],
        "session-attendance": [b.mark("L1", "2026-09-03", "AM"), b.mark("L2", "2026-09-03", "AM")],
    }


def _drop_copies() -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'investigation\\_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def alder(committed_db: None) -> Iterator[Organisation]:
    with time_machine.travel(MONDAY, tick=False):
        school = factories.school("Alder Primary", services_=DESK)
    result = batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(_records())), format="csv-zip", mode="full", sent_by="test"
    )
    assert result.batch.status == "applied", result.batch.errors
    yield school
    _drop_copies()


@pytest.fixture
def dpo(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")


@pytest.fixture
def support() -> User:
    return factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")


def _ticket(school: Organisation, user: User, at: dt.datetime = MONDAY) -> Ticket:
    with tenant_scope([school.id]):
        return services.ticket_raise(
            school=school,
            raised_by=user,
            category="mis_feed",
            urgency="normal",
            summary="Attendance marks missing",
            description="Yesterday's marks did not arrive",
            actor=Actor.of_user(user),
            now=at,
        )


def _request(ticket: Ticket, support: User, **overrides: Any) -> InvestigationCopy:
    terms: dict[str, Any] = {
        "reason": "Reproduce the missing marks",
        "record_types": ["learners", "session-attendance"],
        "recipient": "processor",
        **overrides,
    }
    with tenant_scope([ticket.school_id]):
        return copies.copy_request(ticket=ticket, actor=Actor.of_user(support), **terms)


def _approve(copy: InvestigationCopy, dpo: User, **overrides: Any) -> InvestigationCopy:
    terms: dict[str, Any] = {"record_types": copy.requested_types, "real_identities": False, **overrides}
    with tenant_scope([copy.school_id]):
        return copies.copy_approve(copy=copy, actor=Actor.of_user(dpo), **terms)


def _tables(schema: str) -> set[str]:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {name for (name,) in cursor.fetchall()}


def _values(schema: str, table: str, column: str) -> list[Any]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{schema}"."{table}" ORDER BY 1')
        return [v for (v,) in cursor.fetchall()]


def _schema_exists(name: str) -> bool:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def _fresh(copy: InvestigationCopy) -> InvestigationCopy:
    with tenant_scope([copy.school_id]):
        return InvestigationCopy.objects.get(pk=copy.pk)


def test_requested_then_approved_the_copy_exists_pseudonymised(
    alder: Organisation, dpo: User, support: User, smtp_sink: SmtpSink
) -> None:
    copy = _request(_ticket(alder, dpo), support)
    assert copy.status == CopyStatus.REQUESTED and not copy.schema_name
    smtp_sink.wait_for(2)  # the desk's new-ticket mail and the school's request to decide
    assert any("asks for an investigation copy" in m.message["Subject"] for m in smtp_sink.messages)
    copy = _approve(copy, dpo)
    assert copy.status == CopyStatus.LIVE and copy.row_counts == {"learners": 2, "session-attendance": 2}
    assert _tables(copy.schema_name) == {"mis_learner", "mis_sessionattendance"}
    forenames = _values(copy.schema_name, "mis_learner", "legal_forename")
    assert "Zebedee" not in forenames and "Ottoline" not in forenames
    expected = {pseudonym(copy.secret_key, Learner, "source_id", s) for s in ("L1", "L2")}
    assert set(_values(copy.schema_name, "mis_learner", "source_id")) == expected
    with processor_scope():
        audited = AuditEvent.objects.filter(object_type="servicedesk.InvestigationCopy")
        actions = set(audited.values_list("action", flat=True))
    assert {"investigation_copy_requested", "investigation_copy_approved", "investigation_copy_made"} <= actions


def test_the_school_narrows_and_may_not_widen(alder: Organisation, dpo: User, support: User) -> None:
    copy = _request(_ticket(alder, dpo), support)
    with pytest.raises(ValidationError, match="may only narrow"):
        _approve(copy, dpo, record_types=["learners", "contacts"])
    assert _fresh(copy).status == CopyStatus.REQUESTED
    copy = _approve(copy, dpo, record_types=["session-attendance"])
    assert copy.approved_types == ["session-attendance"]
    assert _tables(copy.schema_name) == {"mis_sessionattendance"}


def test_a_refusal_makes_nothing_and_cannot_then_be_approved(alder: Organisation, dpo: User, support: User) -> None:
    copy = _request(_ticket(alder, dpo), support)
    with tenant_scope([alder.id]):
        with pytest.raises(ValidationError):
            copies.copy_refuse(copy=copy, reason=" ", actor=Actor.of_user(dpo))
        copies.copy_refuse(copy=copy, reason="Use the sample school instead", actor=Actor.of_user(dpo))
    with pytest.raises(ValidationError, match="already decided"):
        _approve(copy, dpo)
    copy = _fresh(copy)
    assert copy.status == CopyStatus.REFUSED and not copy.schema_name
    assert not _schema_exists(copies.schema_for(copy))


def test_a_standing_consent_approves_within_its_scope_only(alder: Organisation, dpo: User, support: User) -> None:
    with tenant_scope([alder.id]):
        consents.consent_give(
            school=alder,
            given_by=dpo,
            actor=Actor.of_user(dpo),
            kind="standing",
            recipient="processor",
            record_types=["learners", "session-attendance"],
        )
    ticket = _ticket(alder, dpo)
    within = _request(ticket, support)
    within = _fresh(within)
    assert within.status == CopyStatus.LIVE and within.consent_id is not None
    assert within.decided_by_label.startswith("Consent ")
    assert _tables(within.schema_name) == {"mis_learner", "mis_sessionattendance"}
    beyond = _request(ticket, support, record_types=["learners", "contacts"])
    assert _fresh(beyond).status == CopyStatus.REQUESTED
    to_vendor = _request(ticket, support, recipient="mis_vendor", vendor_name="Acme MIS")
    assert _fresh(to_vendor).status == CopyStatus.REQUESTED
    identities = _request(ticket, support, identities_requested=True)
    assert _fresh(identities).status == CopyStatus.REQUESTED


def test_real_identities_only_when_the_school_allows_them(alder: Organisation, dpo: User, support: User) -> None:
    ticket = _ticket(alder, dpo)
    asked = _request(ticket, support, identities_requested=True, record_types=["learners"])
    kept_pseudonymised = _approve(asked, dpo, real_identities=False)
    assert set(_values(kept_pseudonymised.schema_name, "mis_learner", "legal_forename")).isdisjoint(
        {"Zebedee", "Ottoline"}
    )
    allowed = _approve(
        _request(ticket, support, identities_requested=True, record_types=["learners"]), dpo, real_identities=True
    )
    assert allowed.real_identities
    assert _values(allowed.schema_name, "mis_learner", "legal_forename") == ["Ottoline", "Zebedee"]
    with processor_scope():
        approvals = AuditEvent.objects.filter(action="investigation_copy_approved", detail__real_identities=True)
        assert [str(allowed.pk)] in [list(map(str, e.object_ids)) for e in approvals]


def _resolved_with_copy(alder: Organisation, dpo: User, support: User) -> tuple[Ticket, InvestigationCopy]:
    ticket = _ticket(alder, dpo)
    copy = _approve(_request(ticket, support), dpo)
    with tenant_scope([alder.id]):
        services.ticket_resolve(ticket=ticket, note="Fixed the feed", actor=Actor.of_user(support), now=MONDAY)
    return ticket, copy


def test_destroyed_90_days_after_the_resolution_and_not_before(
    alder: Organisation, dpo: User, support: User, smtp_sink: SmtpSink
) -> None:
    _, copy = _resolved_with_copy(alder, dpo, support)
    with time_machine.travel(MONDAY + dt.timedelta(days=89), tick=False):
        retention_sweep(today=(MONDAY + dt.timedelta(days=89)).date(), schools=[alder], processor_wide=False)
    assert _fresh(copy).status == CopyStatus.LIVE and _schema_exists(copy.schema_name)
    later = MONDAY + dt.timedelta(days=91)
    with time_machine.travel(later, tick=False):
        proofs = retention_sweep(today=later.date(), schools=[alder], processor_wide=False)
    copy = _fresh(copy)
    assert copy.status == CopyStatus.DESTROYED and not _schema_exists(copy.schema_name)
    assert copy.ticket_id is None and copy.ticket_reference.startswith("RFA-")  # the record outlives the ticket
    assert [(p.what, p.rows) for p in proofs if p.what == "investigation copies"] == [("investigation copies", 1)]
    # The copy keeps a proof of its own, the sweep's, quoted in a person's access bundle.
    assert copy.destruction_proof is not None
    assert (copy.destruction_proof.run, copy.destruction_proof.rows) == (RetentionProof.Run.SWEEP, 4)
    smtp_sink.wait_for(1)
    assert any(
        "dpo@alder.invalid" in m.rcpt_tos and "investigation copy is destroyed" in m.message["Subject"]
        for m in smtp_sink.messages
    )


def test_a_whole_school_legal_hold_keeps_the_copy(alder: Organisation, dpo: User, support: User) -> None:
    _, copy = _resolved_with_copy(alder, dpo, support)
    hold_place(school=alder, reason="Tribunal claim", placed_by="DPO")
    later = MONDAY + dt.timedelta(days=200)
    with time_machine.travel(later, tick=False):
        retention_sweep(today=later.date(), schools=[alder], processor_wide=False)
    assert _fresh(copy).status == CopyStatus.LIVE and _schema_exists(copy.schema_name)


def test_withdrawing_consent_destroys_early_with_a_proof_and_reopening_does_not_bring_it_back(
    alder: Organisation, dpo: User, support: User
) -> None:
    ticket, copy = _resolved_with_copy(alder, dpo, support)
    with tenant_scope([alder.id]):
        copies.copy_withdraw(copy=copy, actor=Actor.of_user(dpo))
        services.ticket_reopen(ticket=ticket, reason="Still missing", actor=Actor.of_user(dpo))
    copy = _fresh(copy)
    assert copy.status == CopyStatus.DESTROYED and "withdrew" in copy.destroyed_because
    assert not _schema_exists(copy.schema_name)
    assert RetentionProof.objects.filter(school=alder, run=RetentionProof.Run.EARLY, rows=4).exists()
    assert copy.destruction_proof is not None and copy.destruction_proof.run == RetentionProof.Run.EARLY
    with pytest.raises(ValidationError, match="nothing to withdraw"), tenant_scope([alder.id]):
        copies.copy_withdraw(copy=copy, actor=Actor.of_user(dpo))
    assert not _schema_exists(copy.schema_name)


def test_withdrawing_the_standing_consent_destroys_the_copies_made_under_it(
    alder: Organisation, dpo: User, support: User
) -> None:
    with tenant_scope([alder.id]):
        consent = consents.consent_give(
            school=alder,
            given_by=dpo,
            actor=Actor.of_user(dpo),
            kind="standing",
            recipient="processor",
            record_types=["learners", "session-attendance"],
        )
    copy = _fresh(_request(_ticket(alder, dpo), support))
    assert _schema_exists(copy.schema_name)
    with tenant_scope([alder.id]):
        consents.consent_withdraw(consent=consent, withdrawn_by=dpo, actor=Actor.of_user(dpo))
    assert _fresh(copy).status == CopyStatus.DESTROYED and not _schema_exists(copy.schema_name)


def test_closing_with_the_copy_no_longer_needed_destroys_it(alder: Organisation, dpo: User, support: User) -> None:
    ticket, copy = _resolved_with_copy(alder, dpo, support)
    with tenant_scope([alder.id]):
        services.ticket_close(ticket=ticket, actor=Actor.of_user(support), copy_no_longer_needed=True)
    copy = _fresh(copy)
    assert copy.status == CopyStatus.DESTROYED and "no longer needed" in copy.destroyed_because


def test_erasure_reaches_the_copy_and_the_access_bundle_lists_it(alder: Organisation, dpo: User, support: User) -> None:
    copy = _approve(_request(_ticket(alder, dpo), support), dpo)
    with tenant_scope([alder.id]):
        learner = Learner.objects.get(source_id="L1")
        access = rights.request_log(
            school=alder,
            kind="access",
            subject_kind="learner",
            subject_id=learner.id,
            subject_label="Zebedee",
            requested_by="parent",
            received_on=MONDAY.date(),
            actor=Actor.system("DPO"),
        )
        listed = gather(access)["held"]["servicedesk"]["servicedesk.InvestigationCopy"]
    assert [(e["copy"], e["your rows, by record type"]) for e in listed] == [
        (copy.reference, {"learners": 1, "session-attendance": 1})
    ]
    assert len(_values(copy.schema_name, "mis_learner", "source_id")) == 2
    with tenant_scope([alder.id]):
        erasure = rights.request_log(
            school=alder,
            kind="erasure",
            subject_kind="learner",
            subject_id=learner.id,
            subject_label="Zebedee",
            requested_by="parent",
            received_on=MONDAY.date(),
            actor=Actor.system("DPO"),
        )
        rights.request_mark_identity_checked(request=erasure, actor=Actor.system("DPO"))
        rights.erasure_execute(request=erasure, actor=Actor.system("DPO"))
    assert len(_values(copy.schema_name, "mis_learner", "source_id")) == 1
    assert len(_values(copy.schema_name, "mis_sessionattendance", "learner_source_id")) == 1
    assert copies.person_rows(copy, record_type="learners", source_id="L2") == {"learners": 1, "session-attendance": 1}
    with tenant_scope([alder.id]):  # the record that they were in the copy goes with them too
        assert list(CopiedPerson.objects.values_list("record_type", "source_id")) == [("learners", "L2")]


def test_only_an_open_ticket_gets_a_copy_and_bad_input_changes_nothing(
    alder: Organisation, dpo: User, support: User
) -> None:
    ticket = _ticket(alder, dpo)
    with pytest.raises(ValidationError) as refused:
        _request(ticket, support, reason="", record_types=["nonsense"], recipient="mis_vendor")
    assert set(refused.value.message_dict) == {"reason", "record_types", "vendor_name"}
    with tenant_scope([alder.id]):
        assert not InvestigationCopy.objects.exists()
        services.ticket_close(ticket=ticket, actor=Actor.of_user(support))
    with pytest.raises(ValidationError, match="closed"):
        _request(ticket, support)


def test_the_termination_purge_drops_the_schools_live_copies(alder: Organisation, dpo: User, support: User) -> None:
    copy = _approve(_request(_ticket(alder, dpo), support), dpo)
    with tenant_scope([alder.id]), transaction.atomic():
        publish(SchoolPurging(school_id=alder.id, at=MONDAY))
    assert not _schema_exists(copy.schema_name)
    assert _fresh(copy).destroyed_because == "the school's contract with the ICT service ended"


def _access_bundle(school: Organisation, kind: str, subject_id: int) -> dict[str, Any]:
    with tenant_scope([school.id]):
        request = rights.request_log(
            school=school,
            kind="access",
            subject_kind=kind,
            subject_id=subject_id,
            subject_label="someone",
            requested_by="parent",
            received_on=MONDAY.date(),
            actor=Actor.system("DPO"),
        )
        held: dict[str, Any] = gather(request)["held"].get("servicedesk", {})
        return held


def test_the_people_in_a_copy_are_kept_and_a_destroyed_copy_stays_in_their_access_bundle(
    alder: Organisation, dpo: User, support: User
) -> None:
    ticket, copy = _resolved_with_copy(alder, dpo, support)  # learners and their attendance, pseudonymised
    with tenant_scope([alder.id]):
        people = set(CopiedPerson.objects.filter(copy=copy).values_list("record_type", "source_id"))
        learner = Learner.objects.get(source_id="L1")
        contact = Contact.objects.get(source_id="C1")  # a contacts' table was not copied
        copies.copy_withdraw(copy=copy, actor=Actor.of_user(dpo))
    assert people == {("learners", "L1"), ("learners", "L2")}
    copy = _fresh(copy)
    assert copy.status == CopyStatus.DESTROYED and copy.destruction_proof_id is not None
    [entry] = _access_bundle(alder, "learner", learner.pk)["servicedesk.InvestigationCopy"]
    assert entry["copy"] == copy.reference and entry["ticket"] == ticket.reference
    assert entry["seen by"] == "The ICT service (processor)" and entry["made"] == copy.made_at
    assert entry["status"] == "Destroyed" and entry["destroyed"] == copy.destroyed_at
    assert entry["destroyed because"] == "the school withdrew its consent"
    assert entry["proof of destruction"] == f"Retention proof {copy.destruction_proof_id}"
    assert "your rows, by record type" not in entry  # a destroyed copy holds none
    assert "servicedesk.InvestigationCopy" not in _access_bundle(alder, "contact", contact.pk)


def test_a_copy_with_real_identities_lists_the_people_it_holds(alder: Organisation, dpo: User, support: User) -> None:
    asked = _request(
        _ticket(alder, dpo), support, identities_requested=True, record_types=["contacts", "learner-contacts"]
    )
    copy = _approve(asked, dpo, real_identities=True)
    with tenant_scope([alder.id]):
        people = set(CopiedPerson.objects.filter(copy=copy).values_list("record_type", "source_id"))
    # L1 is in the copy only as the learner a contact link names; L2 has no contact, so is not in it.
    assert people == {("contacts", "C1"), ("learners", "L1")}


def test_a_restore_replays_the_erasure_into_the_live_copy(alder: Organisation, dpo: User, support: User) -> None:
    backup = backup_record(
        taken_at=timezone.now() - dt.timedelta(hours=1), place="uk-backup", location="vault/1", school_ids=[alder.id]
    )
    copy = _approve(_request(_ticket(alder, dpo), support), dpo)
    tables = sorted(_tables(copy.schema_name))
    with connections["owner"].cursor() as cursor:  # what the backup holds of the copy
        cursor.execute('CREATE SCHEMA "investigation_backup_test"')
        for table in tables:
            cursor.execute(
                f'CREATE TABLE "investigation_backup_test"."{table}" AS TABLE "{copy.schema_name}"."{table}"'
            )
    with tenant_scope([alder.id]):
        learner = Learner.objects.get(source_id="L1")
        copied = list(CopiedPerson.objects.filter(copy=copy).values("school_id", "copy_id", "record_type", "source_id"))
        erasure = rights.request_log(
            school=alder,
            kind="erasure",
            subject_kind="learner",
            subject_id=learner.id,
            subject_label="Zebedee",
            requested_by="parent",
            received_on=MONDAY.date(),
            actor=Actor.system("DPO"),
        )
        rights.request_mark_identity_checked(request=erasure, actor=Actor.system("DPO"))
        rights.erasure_execute(request=erasure, actor=Actor.system("DPO"))
    assert len(_values(copy.schema_name, "mis_learner", "source_id")) == 1
    # The backup is restored: the copy's rows and its list of people come back as they were.
    with connections["owner"].cursor() as cursor:
        for table in tables:
            cursor.execute(f'TRUNCATE "{copy.schema_name}"."{table}"')
            cursor.execute(f'INSERT INTO "{copy.schema_name}"."{table}" TABLE "investigation_backup_test"."{table}"')
    with tenant_scope([alder.id]):
        CopiedPerson.objects.bulk_create(CopiedPerson(**row) for row in copied if row["source_id"] == "L1")
    assert len(_values(copy.schema_name, "mis_learner", "source_id")) == 2
    with processor_scope():
        assert ("subject_erasure", "learners", ["L1"]) in RestoreReplay.objects.values_list(
            "kind", "target", "source_ids"
        )
    replay_after_restore(backup=backup)
    assert _values(copy.schema_name, "mis_learner", "source_id") == [
        pseudonym(copy.secret_key, Learner, "source_id", "L2")
    ]
    assert len(_values(copy.schema_name, "mis_sessionattendance", "learner_source_id")) == 1
    with tenant_scope([alder.id]):
        assert list(CopiedPerson.objects.values_list("source_id", flat=True)) == ["L2"]
    with processor_scope():
        assert AuditEvent.objects.filter(action="investigation_copy_erasure", actor_label="backup restore").exists()


def test_a_refusal_is_emailed_to_who_asked_and_the_assignee(
    alder: Organisation, dpo: User, support: User, smtp_sink: SmtpSink
) -> None:
    ticket = _ticket(alder, dpo)
    priya = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="priya@ict.invalid")
    with tenant_scope([alder.id]):
        services.ticket_assign(ticket=ticket, assignee=priya, actor=Actor.of_user(priya))
    copy = _request(ticket, support)
    smtp_sink.wait_for(2)  # the desk's new-ticket mail and the school's request to decide
    smtp_sink.clear()
    with tenant_scope([alder.id]):
        copies.copy_refuse(copy=copy, reason="Use the sample school instead", actor=Actor.of_user(dpo))
    mails = smtp_sink.wait_for(2)
    assert sorted(r for m in mails for r in m.rcpt_tos) == ["priya@ict.invalid", "sam@ict.invalid"]
    for mail in mails:
        assert mail.message["Subject"] == f"{ticket.reference}: the school refused the investigation copy"
        assert "Their reason: Use the sample school instead" in mail.body
        assert f"/processor/service-desk/{ticket.pk}/" in mail.body
