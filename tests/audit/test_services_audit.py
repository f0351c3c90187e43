"""Every service that changes something audits itself (DESIGN.md "Services audit; views don't").

The walk calls each writing service with real data, as a command would (no request, no view),
and finds its audit event: the right action, the right actor and the right school. The census
fails when a public function appears in a `services` module that is neither walked here nor
listed below as not writing (or as covered elsewhere) with a reason, so a new writing service
cannot forget its audit event unnoticed.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import pkgutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import F
from django.test import RequestFactory, TestCase, override_settings
from django_otp.oath import TOTP

import steward
from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.audit.selectors import AuditQuery
from steward.audit.services import audit_log_csv
from steward.consents import services as consents
from steward.consents.models import Consent, MarketingPreference
from steward.core.flow_formats import FlowFile
from steward.ingest.services import batch_ingest
from steward.mis.models import Contact, Learner
from steward.portal import accounts
from steward.portal import services as portal
from steward.portal.models import ParentAccount, ParentLink
from steward.register.models import ProcessingActivity, Recipient
from steward.retention import services as retention
from steward.rights import services as rights
from steward.rights.models import RightsRequest
from steward.rostering import services as rostering
from steward.rostering.signin import SignIn, sign_in_for
from steward.servicedesk import attachments, copies, support
from steward.servicedesk import services as desk
from steward.servicedesk.models import InvestigationCopy, SupportGrant, Ticket, TicketAttachment
from steward.sharing import services as sharing
from steward.sharing.models import DataFlow
from steward.signins import services as signins
from steward.signins.models import EndReason, Kind, ParentSession, StaffSession
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.ingest import builders as b
from tests.rostering.conftest import school_with_flow

# Requests are received on fixed days and a consent must end in the future: today is set.
TODAY = dt.date(2026, 11, 25)
pytestmark = [pytest.mark.time_machine(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)), pytest.mark.dates]

# Public functions of services modules that change nothing (or nothing of anyone's data), and why.
NOT_WRITING: dict[str, str] = {
    "audit.services.audit_record": "the audit log's own writer",
    "signins.services.idle_limit": "reads a setting",
    "signins.services.key_hash": "a pure function",
    "signins.services.model_of": "a pure function",
    "signins.services.new_sign_in_body": "a pure function: the email's text",
    "signins.services.current_ids": "reads the request's session",
    "signins.services.entries_of": "reads the request's session",
    "signins.services.touch": "stamps last activity at most once a minute; auditing it would log every page twice",
    "servicedesk.copies.schema_for": "names the copy's schema",
    "servicedesk.copies.live_rows": "counts the live copy's rows",
    "servicedesk.copies.person_rows": "counts a person's rows in a live copy",
    "servicedesk.copies.people_in": "reads who a live copy holds (make_copy records them, and audits)",
    "servicedesk.support.grant_reads": "a read of the audit log: what was read under a grant",
    "servicedesk.attachments.read_uploads": "reads the posted files into memory",
    "servicedesk.attachments.sanitise_name": "cleans a file name",
    "servicedesk.attachments.check": "sniffs and scans posted files; writes nothing",
    "servicedesk.attachments.store": "writes a file's bytes for `save`, `redact` (which audit)",
    "servicedesk.attachments.open_stored": "opens a stored file; the download views audit each download",
    "servicedesk.attachments.delete_files": "deletes files whose rows' deletion is audited by its caller",
    "servicedesk.attachments.delete_files_after_commit": "queues `delete_files` after its caller's deletion commits",
    "servicedesk.attachments.keys_of_tickets": "reads the storage keys of tickets about to be deleted",
    "servicedesk.attachments.on_school_purging": "subscriber inside a school's purge, which the termination audits",
    "servicedesk.attachments.text_warning": "scans typed text for a warning; writes nothing",
    "monitoring.alerts.subject_label": "names an alert's subject",
    "monitoring.alerts.subject_labels": "names alerts' subjects",
    "monitoring.breach.affected": "reads the audit log for the people an alert's subject read",
    "monitoring.breach.time_left": "works out the ICO clock",
    "audit.services.audit_action": "the audit log's own writer, for services",
    "audit.services.audit_request": "the audit log's own writer, for what an edge does (page views)",
    "audit.services.audit_prune": "prunes the log itself, called by the retention sweep, which audits the deletion",
    "audit.services.audit_seal_heads": "the log's own writer: its event is the seal (test_chain_per_school.py)",
    "audit.services.committed_through": "reads the log's bound, changes nothing (the detection pass and prune use it)",
    "consents.services.consent_in_force": "a read",
    "consents.services.agreement_in_force": "a read",
    "consents.services.marketing_opted_in": "a read",
    "consents.services.send_marketing": "sends mail to those who opted in; changes no row",
    "ingest.services.file_sha256": "a pure function",
    "ingest.services.read_batch": "parses a file; changes nothing",
    "portal.services.eligible_contacts": "a read",
    "portal.services.invitation_for_token": "a read",
    "portal.accounts.pending_two_factor_key": "a key to scan, not yet in use: turning two-factor on is audited",
    "portal.accounts.push_public_key": "a read",
    "portal.accounts.remember_analytics_choice": "the parent's cookie choice, also kept in their browser; no data",
    "notices.services.notice_version_pdf": "renders a stored version",
    "notices.services.notice_publish": (
        "records the version of a public notice a reader was shown (public, append-only, versioned); "
        "no one's personal data, and the change that made a new version is audited where it happened"
    ),
    "notices.services.notice_refresh": "as notice_publish: a new notice version after an audited change",
    "notices.services.on_flow_changed": "subscriber of FlowChanged: the flow service audits the change",
    "notices.services.on_contact_changed": "subscriber of DataProtectionContactChanged: a new notice version",
    "notices.services.on_catalogue_synced": "subscriber of CatalogueSynced (deploy): new notice versions",
    "sharing.services.record_disclosure": (
        "writes the disclosure log, which is itself the record of what a recipient was given"
    ),
    "sharing.services.read_records_page": "a recipient's read; its record is the disclosure log (record_disclosure)",
    "rostering.services.disclose_page": "a OneRoster read; its record is the disclosure log (bulk)",
    "notices.services.on_termination_started": "subscriber of TerminationStarted: the termination audits itself",
    "register.services.catalogue_sync": "loads the register catalogue at deploy (`steward setup`); no one's data",
    "retention.services.policy_text": "a pure function",
    "retention.services.on_subject_erased": "subscriber inside an erasure, which the rights service audits",
    "retention.services.keep_erasure_proofs": "subscriber inside a school's purge, which the termination audits",
    "retention.services.replay_prune": "forgets replay-log entries no kept backup needs; no one's data",
    "rights.services.erasure_preview": "a dry run: changes nothing",
    "rights.services.on_batch_applied": "subscriber: calls rectifications_corrected, which is walked",
    "rights.services.on_school_purging": "subscriber inside a school's purge, which the termination audits",
    # Provisioning: only the demo loader and the test factories call these today; the first view,
    # API or command that provisions must give them an actor and an audit event.
    "tenancy.services.school_create": "provisioning (demo loader and test factories only)",
    "tenancy.services.contract_create": "provisioning (demo loader and test factories only)",
    "tenancy.services.membership_grant": "provisioning (demo loader and test factories only)",
    "tenancy.services.user_create": "provisioning (demo loader and test factories only)",
    "tenancy.services.api_client_create": "provisioning (demo loader and test factories only)",
    "tenancy.services.data_protection_contact_set": "provisioning (demo loader and test factories only)",
}

# Writing services audited, and checked, by another test.
COVERED_ELSEWHERE: dict[str, str] = {
    # Sessions: starting and signing out are part of signing in and out, which the faces' sign-in
    # services audit (tests/signins asserts the events); every ending is walked below.
    "signins.services.session_started": "part of signing in: backoffice/portal auth audit sign_in",
    "signins.services.adopt": "records a session already signed in, without an act of its own to audit",
    "signins.services.session_signed_out": "part of signing out: the sign-in services audit sign_out",
    **{
        f"provisioning.services.{name}": "tests/provisioning/test_runs.py asserts its audit event (needs a directory)"
        for name in ("target_save", "plan_make", "plan_confirm", "plan_discard", "run_apply", "letters_take")
    },
    "retention.services.retention_sweep": "tests/retention/test_sweep.py (needs data past its retention period)",
    "retention.services.keep_destruction_proof": (
        "writes the proof of servicedesk.copies.destroy, which audits; tests/servicedesk/test_copies.py"
    ),
    **{
        f"servicedesk.copies.{name}": "tests/servicedesk/test_copies.py asserts its audit event (needs committed "
        "MIS rows: the copy is made through the owner's connection)"
        for name in ("copy_approve", "make_copy", "destroy", "destroy_for_ticket", "on_consent_withdrawn")
    },
    "servicedesk.copies.on_subject_erased": "tests/servicedesk/test_copies.py (after an erasure commits)",
    "servicedesk.copies.on_school_purging": "destroys through `destroy`, which audits (a termination purge)",
}

# Sign-in and its audit events live outside services modules and are rebuilt by another change:
# backoffice/views/sign_in.py, portal/views/sign_in.py and portal/auth.py audit at the edge; signing in
# with a school's identity provider (backoffice/auth.py's check_provider_identity, provider_failed,
# signed_in_by_provider, provider_factor) has each of its audit events asserted by
# tests/backoffice/test_sign_in_with_provider.py.
SIGN_IN_ELSEWHERE = (
    "backoffice/views/sign_in.py",
    "backoffice/views/sign_in_with.py",
    "backoffice/auth.py",
    "portal/views/sign_in.py",
    "portal/auth.py",
)


@dataclass
class World:
    school: Organisation
    admin: User
    actor: Actor

    def learner_id(self, source_id: str = "L1") -> int:
        with tenant_scope([self.school.id]):
            return int(Learner.objects.get(source_id=source_id).pk)


@dataclass
class Expect:
    action: str
    school_id: int | None
    label: str
    by_actor: bool = True  # the service took `world.actor`: user, address and request id are checked too


Scenario = Callable[[World], Expect]
WALK: dict[str, Scenario] = {}


def walks(name: str) -> Callable[[Scenario], Scenario]:
    def register(scenario: Scenario) -> Scenario:
        WALK[name] = scenario
        return scenario

    return register


# --- sharing -------------------------------------------------------------------------------------


def _flow(w: World) -> DataFlow:
    with tenant_scope([w.school.id]):
        return sharing.flow_request(
            school=w.school,
            recipient=Recipient.objects.get(code="la-attendance"),
            activity=ProcessingActivity.objects.get(service="data_exchange"),
            purpose="Act on persistent absence",
            lawful_basis="6.1.c",
            categories=["learner.identity", "learner.attendance"],
            actor=w.actor,
        )


def _approved(w: World) -> DataFlow:
    flow = _flow(w)
    with tenant_scope([w.school.id]):
        return sharing.flow_approve(flow=flow, actor=w.actor)


# --- audit ---------------------------------------------------------------------------------------


@walks("audit.services.audit_log_csv")
def _audit_log_csv(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        audit_log_csv(w.actor, school_id=w.school.id, query=AuditQuery())
    return Expect("export_csv", w.school.id, w.actor.label)


@walks("sharing.services.flow_request")
def _flow_request(w: World) -> Expect:
    _flow(w)
    return Expect("flow_request_recorded", w.school.id, w.actor.label)


@walks("sharing.services.flow_approve")
def _flow_approve(w: World) -> Expect:
    _approved(w)
    return Expect("flow_approve", w.school.id, w.actor.label)


@walks("sharing.services.flow_decline")
def _flow_decline(w: World) -> Expect:
    flow = _flow(w)
    with tenant_scope([w.school.id]):
        sharing.flow_decline(flow=flow, actor=w.actor, note="not needed")
    return Expect("flow_decline", w.school.id, w.actor.label)


@walks("sharing.services.flow_suspend")
def _flow_suspend(w: World) -> Expect:
    flow = _approved(w)
    with tenant_scope([w.school.id]):
        sharing.flow_suspend(flow=flow, actor=w.actor)
    return Expect("flow_suspend", w.school.id, w.actor.label)


@walks("sharing.services.flow_revoke")
def _flow_revoke(w: World) -> Expect:
    flow = _approved(w)
    with tenant_scope([w.school.id]):
        sharing.flow_revoke(flow=flow, actor=w.actor)
    return Expect("flow_revoke", w.school.id, w.actor.label)


# --- consents ------------------------------------------------------------------------------------


def _consent(w: World) -> Consent:
    with tenant_scope([w.school.id]):
        return consents.consent_give(
            school=w.school,
            given_by=w.admin,
            actor=w.actor,
            kind=Consent.Kind.STANDING,
            recipient=Consent.Recipient.PROCESSOR,
            record_types=["learners"],
        )


@walks("consents.services.consent_give")
def _consent_give(w: World) -> Expect:
    _consent(w)
    return Expect("consent_given", w.school.id, w.actor.label)


@walks("consents.services.consent_withdraw")
def _consent_withdraw(w: World) -> Expect:
    consent = _consent(w)
    with tenant_scope([w.school.id]):
        consents.consent_withdraw(consent=consent, withdrawn_by=w.admin, actor=w.actor)
    return Expect("consent_withdrawn", w.school.id, w.actor.label)


def _agreement_sign(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        consents.agreement_sign(
            school=w.school,
            signed_by=w.admin,
            actor=w.actor,
            record_types=["learners"],
            purpose="Test dashboards",
            recipient="Development team",
            starts_on=TODAY,
            expires_on=TODAY + dt.timedelta(days=30),
        )
    return Expect("agreement_signed", w.school.id, w.actor.label)


walks("consents.services.agreement_sign")(_agreement_sign)


@walks("consents.services.agreement_revoke")
def _agreement_revoke(w: World) -> Expect:
    _agreement_sign(w)
    with tenant_scope([w.school.id]):
        agreement = consents.DataUseAgreement.objects.get()
        consents.agreement_revoke(agreement=agreement, actor=w.actor)
    return Expect("agreement_revoked", w.school.id, w.actor.label)


@walks("consents.services.marketing_preference_set")
def _marketing(w: World) -> Expect:
    consents.marketing_preference_set(
        user=w.admin, channel="email", opted_in=True, source=MarketingPreference.Source.ACCOUNT_PAGE, actor=w.actor
    )
    return Expect("marketing_opt_in", None, w.actor.label)


# --- rights --------------------------------------------------------------------------------------


def _request(w: World, kind: str, *, checked: bool = True, received: dt.date = dt.date(2026, 11, 2)) -> RightsRequest:
    with tenant_scope([w.school.id]):
        logged = rights.request_log(
            school=w.school,
            kind=kind,
            subject_kind="learner",
            subject_id=w.learner_id(),
            subject_label="Sam Jones",
            requested_by="Alex Jones",
            received_on=received,
            actor=w.actor,
            note="Sam's forename is Samuel",
        )
        if checked:
            rights.request_mark_identity_checked(request=logged, actor=w.actor)
        return logged


def _rights(action: str, w: World) -> Expect:
    return Expect(f"rights_request_{action}", w.school.id, w.actor.label)


def _rights_walk(name: str, action: str, kind: str, act: Callable[[World, RightsRequest], object]) -> None:
    def scenario(w: World) -> Expect:
        request = _request(w, kind, checked=name != "request_mark_identity_checked" and name != "request_log")
        if name not in ("request_log", "request_mark_identity_checked"):
            with tenant_scope([w.school.id]):
                act(w, request)
        elif name == "request_mark_identity_checked":
            with tenant_scope([w.school.id]):
                rights.request_mark_identity_checked(request=request, actor=w.actor)
        return _rights(action, w)

    WALK[f"rights.services.{name}"] = scenario


_rights_walk("request_log", "logged", "access", lambda w, r: None)
_rights_walk("request_mark_identity_checked", "identity", "access", lambda w, r: None)
_rights_walk(
    "request_extend",
    "extend",
    "access",
    lambda w, r: rights.request_extend(request=r, to=r.deadline + dt.timedelta(days=7), reason="many", actor=w.actor),
)
_rights_walk(
    "access_bundle", "bundle", "access", lambda w, r: rights.access_bundle(request=r, actor=w.actor, out=io.BytesIO())
)
_rights_walk(
    "portability_bundle",
    "portable",
    "portability",
    lambda w, r: rights.portability_bundle(request=r, actor=w.actor, out=io.BytesIO()),
)
_rights_walk(
    "request_refuse",
    "refuse",
    "access",
    lambda w, r: rights.request_refuse(request=r, reason="excessive", actor=w.actor),
)
_rights_walk(
    "request_complete",
    "complete",
    "rectification",
    lambda w, r: rights.request_complete(request=r, note="done in the MIS", actor=w.actor),
)
_rights_walk(
    "rectification_forward",
    "forward",
    "rectification",
    lambda w, r: rights.rectification_forward(request=r, actor=w.actor),
)
_rights_walk(
    "objection_decide",
    "uphold",
    "objection",
    lambda w, r: rights.objection_decide(request=r, upheld=True, reason="no compelling grounds", actor=w.actor),
)
_rights_walk("erasure_execute", "erase", "erasure", lambda w, r: rights.erasure_execute(request=r, actor=w.actor))
_rights_walk(
    "restriction_apply",
    "restrict",
    "restriction",
    lambda w, r: rights.restriction_apply(request=r, restricted=True, actor=w.actor),
)


_rights_walk(
    "access_withhold",
    "withhold",
    "access",
    lambda w, r: rights.access_withhold(request=r, section="mis.LearnerContact", reason="third party", actor=w.actor),
)
_rights_walk(
    "access_send",
    "send",
    "access",
    lambda w, r: rights.access_send(request=r, method="post", email="", actor=w.actor),
)


@walks("rights.services.access_no_data")
def _no_data(w: World) -> Expect:
    access, erasure = _request(w, "access"), _request(w, "erasure")
    with tenant_scope([w.school.id]):
        rights.erasure_execute(request=erasure, actor=Actor.system("an earlier erasure"))
        rights.access_no_data(request=access, method="post", email="", actor=w.actor)
    return _rights("no_data", w)


@walks("rights.services.request_acknowledge")
def _acknowledged(w: World) -> Expect:
    request = _request(w, "access", checked=False)
    with tenant_scope([w.school.id]):
        rights.request_acknowledge(request=request, parent_email="alex@example.invalid")
    return Expect("rights_request_acknowledged", w.school.id, "Steward", by_actor=False)


@walks("rights.services.rectifications_corrected")
def _corrected(w: World) -> Expect:
    request = _request(w, "rectification")
    with tenant_scope([w.school.id]):
        rights.rectification_forward(request=request, actor=w.actor)
        # The MIS sends the corrected record: its change version moves past the forwarded one.
        Learner.objects.filter(pk=request.subject_id).update(change_version=F("change_version") + 1000)
        assert rights.rectifications_corrected(school_id=w.school.id, batch_id="walk") == [request.id]
    return Expect("rights_request_complete", w.school.id, "MIS", by_actor=False)


@walks("rights.services.reminders_send")
def _reminders(w: World) -> Expect:
    _request(w, "access", received=TODAY - dt.timedelta(days=27))  # due within the week
    assert rights.reminders_send(today=TODAY) == 1
    return Expect("rights_request_reminded", w.school.id, "Steward", by_actor=False)


# --- ingest, portal, retention (services that name their actor their own way) ---------------------


@walks("ingest.services.batch_ingest")
def _ingest(w: World) -> Expect:
    records = b.small_school()
    records["learners"][0]["legal_forename"] = "Samuel"  # not the setup's file again (that is a duplicate)
    batch = io.BytesIO(b.csv_zip(records))
    batch_ingest(school=w.school, stream=batch, format="csv-zip", mode="full", sent_by="agent-7")
    return Expect("ingest_applied", w.school.id, "agent-7", by_actor=False)


def _invite(w: World) -> str:
    with TestCase.captureOnCommitCallbacks(execute=False), tenant_scope([w.school.id]):
        report = portal.invite_contacts(
            school=w.school, contacts=Contact.objects.filter(source_id="C1"), invited_by=w.admin, base_url="http://t"
        )
    return str(report.tokens["C1"])


@walks("portal.services.invite_contacts")
def _invite_contacts(w: World) -> Expect:
    _invite(w)
    return Expect("portal_invitations_sent", w.school.id, str(w.admin), by_actor=False)


@walks("portal.services.invitation_accept")
def _invitation_accept(w: World) -> Expect:
    parent = portal.invitation_accept(token=_invite(w), full_name="Alex Jones", password="a-long-parent-password-42")
    return Expect("portal_invitation_accepted", w.school.id, f"parent account {parent.pk}", by_actor=False)


@walks("portal.services.settings_update")
def _settings(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        portal.settings_update(school_id=w.school.id, values={"show_diary": True}, by=w.admin)
    return Expect("portal_settings_changed", w.school.id, str(w.admin), by_actor=False)


@walks("portal.services.correction_request")
def _correction(w: World) -> Expect:
    parent = ParentAccount.objects.create(email="alex@example.invalid", full_name="Alex Jones")
    with tenant_scope([w.school.id]), processor_scope():
        link = ParentLink.objects.create(parent=parent, school=w.school, contact_source_id="C1")
    portal.correction_request(parent=parent, link=link, correction="My mobile is 07700 900123")
    return Expect("rights_request_logged", w.school.id, f"parent account {parent.pk}", by_actor=False)


def _parent() -> ParentAccount:
    return ParentAccount.objects.create(email="robin@example.invalid", full_name="Robin Jones")


@walks("portal.accounts.save_preferences")
def _preferences(w: World) -> Expect:
    accounts.save_preferences(
        _parent(), notify_kinds=["homework"], notify_by_email=True, notify_by_push=False, actor=w.actor
    )
    return Expect("portal_preferences_changed", None, w.actor.label)


@walks("portal.accounts.toggle_two_factor")
def _two_factor(w: World) -> Expect:
    parent = _parent()
    accounts.pending_two_factor_key(parent, fresh=True)
    token = f"{TOTP(bytes.fromhex(parent.totp_key)).token():06d}"
    accounts.toggle_two_factor(parent, token, actor=w.actor, keep_session=None)
    return Expect("portal_two_factor_on", None, w.actor.label)


@walks("portal.accounts.subscribe_push")
def _push(w: World) -> Expect:
    with override_settings(OUTBOUND_ALLOWED_PRIVATE=["127.0.0.1"]):  # the test's push service
        accounts.subscribe_push(
            _parent(), endpoint="http://127.0.0.1:9/push/robin", p256dh="k", auth="a", actor=w.actor
        )
    return Expect("portal_push_subscribed", None, w.actor.label)


@walks("portal.accounts.close_account")
def _close(w: World) -> Expect:
    accounts.close_account(_parent(), actor=w.actor)
    return Expect("portal_account_closed", None, w.actor.label)


# --- signins: every way a session ends audits itself, whoever calls it -----------------------------


def _staff_session(user: User, key: str = "walk-key") -> StaffSession:
    return StaffSession.objects.create(user=user, key_hash=signins.key_hash(key))


@walks("signins.services.end_sessions")
def _end_sessions(w: World) -> Expect:
    row = _staff_session(w.admin)
    with tenant_scope([w.school.id]):  # a school administrator's page runs in the chosen school's scope
        signins.end_sessions(StaffSession, [row.pk], why=EndReason.ENDED_BY_ADMIN, actor=w.actor, school_id=w.school.id)
    return Expect("session_ended", w.school.id, w.actor.label)


@walks("signins.services.end_other_sessions")
def _end_other_sessions(w: World) -> Expect:
    _staff_session(w.admin)
    signins.end_other_sessions(kind=Kind.STAFF, owner_id=w.admin.pk, why=EndReason.PASSWORD_CHANGED, actor=w.actor)
    return Expect("session_ended", None, w.actor.label)


@walks("signins.services.forget_parent")
def _forget_parent(w: World) -> Expect:
    parent = _parent()
    ParentSession.objects.create(parent_id=parent.pk, key_hash=signins.key_hash("walk-parent-key"))
    signins.forget_parent(parent.pk, actor=w.actor)
    return Expect("portal_session_ended", None, w.actor.label)


@walks("signins.services.expire")
def _expire(w: World) -> Expect:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    signins.session_started(request, kind=Kind.STAFF, owner_id=w.admin.pk, notify=False)
    signins.expire(request, EndReason.IDLE, actor=w.actor)
    return Expect("session_expired", None, w.actor.label)


@walks("signins.services.sweep_sessions")
def _sweep_sessions(w: World) -> Expect:
    signins.sweep_sessions(now=dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC), actor=w.actor)
    return Expect("sessions_swept", None, w.actor.label)


@walks("signins.services.sweep_tokens")
def _sweep_tokens(w: World) -> Expect:
    signins.sweep_tokens(actor=w.actor)
    return Expect("tokens_swept", None, w.actor.label)


@walks("retention.services.hold_place")
def _hold_place(w: World) -> Expect:
    retention.hold_place(school=w.school, reason="litigation", placed_by="Processor DPO")
    return Expect("legal_hold_placed", w.school.id, "Processor DPO", by_actor=False)


@walks("retention.services.hold_lift")
def _hold_lift(w: World) -> Expect:
    hold = retention.hold_place(school=w.school, reason="litigation", placed_by="Processor DPO")
    retention.hold_lift(hold=hold, lifted_by="Processor DPO (lift)")
    return Expect("legal_hold_lifted", w.school.id, "Processor DPO (lift)", by_actor=False)


@walks("retention.services.backup_record")
def _backup_record(w: World) -> Expect:
    taken = dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)
    retention.backup_record(taken_at=taken, place="vault", location="s3://walk", school_ids=[w.school.id])
    return Expect("backup_recorded", None, "backup", by_actor=False)


@walks("retention.services.replay_after_restore")
def _replay(w: World) -> Expect:
    taken = dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)
    backup = retention.backup_record(taken_at=taken, place="vault", location="s3://walk", school_ids=[w.school.id])
    retention.replay_after_restore(backup=backup)
    return Expect("restore_replayed", None, "backup restore", by_actor=False)


# --- rostering (app sign-in) ----------------------------------------------------------------------


def _sign_in(w: World) -> SignIn:
    school, _ = school_with_flow("Walk Rostering", "ada@walk.invalid")
    teacher = factories.user(Role.SCHOOL_ADMIN, school, email="ada@walk.invalid")
    app, _, _ = rostering.sign_in_app_register(
        recipient=Recipient.objects.get(code="learning-app"),
        name="Walk app",
        redirect_uris=["https://app.example/cb"],
        confidential=True,
        actor=Actor.system("setup"),
    )
    return sign_in_for(user=teacher, app=app, school=school)


@walks("rostering.services.sign_in_app_register")
def _app_register(w: World) -> Expect:
    rostering.sign_in_app_register(
        recipient=Recipient.objects.get(code="learning-app"),
        name="Walk app",
        redirect_uris=["https://app.example/cb"],
        confidential=False,
        actor=w.actor,
    )
    return Expect("sign_in_app_registered", None, w.actor.label)


@walks("rostering.services.sign_in_consent_record")
def _consent_record(w: World) -> Expect:
    sign_in = _sign_in(w)
    rostering.sign_in_consent_record(user=w.admin, sign_in=sign_in, given=True, actor=w.actor)
    return Expect("sign_in_consent_given", sign_in.school.id, w.actor.label)


@walks("rostering.services.sign_in_consent_withdraw")
def _consent_withdraw(w: World) -> Expect:
    sign_in = _sign_in(w)
    consent = rostering.sign_in_consent_record(user=w.admin, sign_in=sign_in, given=True, actor=Actor.system("x"))
    rostering.sign_in_consent_withdraw(consent=consent, actor=w.actor)
    return Expect("sign_in_consent_withdrawn", sign_in.school.id, w.actor.label)


@walks("rostering.services.sign_in_release")
def _release(w: World) -> Expect:
    sign_in = _sign_in(w)
    rostering.sign_in_release(sign_in=sign_in, channel_detail="id_token", actor=w.actor)
    return Expect("sign_in_claims_released", sign_in.school.id, w.actor.label)


# --- rostering (OneRoster CSV) --------------------------------------------------------------------


@walks("rostering.services.oneroster_csv_export")
def _oneroster_csv_export(w: World) -> Expect:
    school, _ = school_with_flow("Walk Roster CSV", "ada@csv.invalid")
    with tempfile.TemporaryDirectory() as folder:
        rostering.oneroster_csv_export(
            school_urn=school.urn or 0,
            recipient_code="learning-app",
            since=None,
            out=Path(folder) / "r.zip",
            actor=w.actor,
        )
    return Expect("oneroster_csv_exported", school.id, w.actor.label)


@walks("rostering.services.oneroster_csv_deliver")
def _oneroster_csv_deliver(w: World) -> Expect:
    school, flow = school_with_flow("Walk Roster Delivery", "ada@drop.invalid")
    with tempfile.TemporaryDirectory() as folder, tenant_scope([school.id]):
        rostering.oneroster_csv_deliver(FlowFile(school.id, flow.id, Path(folder), since=None))
    return Expect("oneroster_csv_exported", school.id, "Scheduled delivery", by_actor=False)


# --- service desk --------------------------------------------------------------------------------


def _ticket(w: World, actor: Actor | None = None) -> Ticket:
    with tenant_scope([w.school.id]):
        return desk.ticket_raise(
            school=w.school,
            raised_by=w.admin,
            category="mis_feed",
            urgency="normal",
            summary="Upload rejected",
            description="The nightly upload was rejected",
            actor=actor or Actor.system("school"),
        )


def _copy(w: World) -> InvestigationCopy:
    with tenant_scope([w.school.id]):
        return copies.copy_request(
            ticket=_ticket(w),
            reason="Reproduce the fault",
            record_types=["learners"],
            recipient="processor",
            identities_requested=True,  # no consent approves it: it waits for the school
            actor=Actor.system("ICT service"),
        )


@walks("servicedesk.copies.copy_request")
def _copy_request(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        copies.copy_request(
            ticket=_ticket(w),
            reason="Reproduce the fault",
            record_types=["learners"],
            recipient="processor",
            identities_requested=True,
            actor=w.actor,
        )
    return Expect("investigation_copy_requested", w.school.id, w.actor.label)


@walks("servicedesk.copies.copy_refuse")
def _copy_refuse(w: World) -> Expect:
    copy = _copy(w)
    with tenant_scope([w.school.id]):
        copies.copy_refuse(copy=copy, reason="Not needed", actor=w.actor)
    return Expect("investigation_copy_refused", w.school.id, w.actor.label)


@walks("servicedesk.copies.copy_withdraw")
def _copy_withdraw(w: World) -> Expect:
    copy = _copy(w)
    with tenant_scope([w.school.id]):
        copies.copy_withdraw(copy=copy, actor=w.actor)
    return Expect("investigation_copy_refused", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_raise")
def _ticket_raise(w: World) -> Expect:
    _ticket(w, w.actor)
    return Expect("ticket_raise", w.school.id, w.actor.label)


def _attachment(w: World) -> TicketAttachment:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        [saved] = attachments.save(
            attachments.check([attachments.Upload(name="rows.csv", data=b"a,b\n", size=4)]),
            ticket=ticket,
            message=None,
            uploader=w.admin,
            actor=Actor.system("school"),
            from_processor=False,
            written=[],
        )
    return saved


@walks("servicedesk.attachments.save")
def _attachment_save(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        attachments.save(
            attachments.check([attachments.Upload(name="rows.csv", data=b"a,b\n", size=4)]),
            ticket=ticket,
            message=None,
            uploader=w.admin,
            actor=w.actor,
            from_processor=False,
            written=[],
        )
    return Expect("ticket_attachment_upload", w.school.id, w.actor.label)


@walks("servicedesk.attachments.quarantine")
def _attachment_quarantine(w: World) -> Expect:
    saved = _attachment(w)
    with tenant_scope([w.school.id]):
        attachments.quarantine(attachment=saved, user=w.admin, actor=w.actor)
    return Expect("ticket_attachment_quarantine", w.school.id, w.actor.label)


@walks("servicedesk.attachments.redact")
def _attachment_redact(w: World) -> Expect:
    saved = _attachment(w)
    with tenant_scope([w.school.id]):
        attachments.redact(attachment=saved, user=w.admin, actor=w.actor)
    return Expect("ticket_attachment_redact", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_triage")
def _ticket_triage(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_triage(ticket=ticket, category="other", urgency="high", actor=w.actor)
    return Expect("ticket_triage", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_assign")
def _ticket_assign(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_assign(ticket=ticket, assignee=None, actor=w.actor)
    return Expect("ticket_assign", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_reply")
def _ticket_reply(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_reply(ticket=ticket, author=w.admin, body="More detail", from_processor=False, actor=w.actor)
    return Expect("ticket_reply", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_resolve")
def _ticket_resolve(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_resolve(ticket=ticket, note="Fixed", actor=w.actor)
    return Expect("ticket_resolve", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_close")
def _ticket_close(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_close(ticket=ticket, actor=w.actor)
    return Expect("ticket_close", w.school.id, w.actor.label)


@walks("servicedesk.services.ticket_reopen")
def _ticket_reopen(w: World) -> Expect:
    ticket = _ticket(w)
    with tenant_scope([w.school.id]):
        desk.ticket_resolve(ticket=ticket, note="Fixed", actor=Actor.system("desk"))
        desk.ticket_reopen(ticket=ticket, reason="Still broken", actor=w.actor)
    return Expect("ticket_reopen", w.school.id, w.actor.label)


def _alert(w: World) -> Any:
    from steward.monitoring.alerts import record_findings
    from steward.monitoring.rules import Finding
    from steward.tenancy.scope import estate_scope

    now = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    finding = Finding(
        rule="bulk_reads_hour",
        subject_kind="user",
        subject_key=f"user:{w.admin.pk}",
        window_start=now,
        window_end=now + dt.timedelta(hours=1),
        event_ids=[],
        event_count=1,
        first_at=now,
        last_at=now,
        summary="Read records worth 200 in one hour",
        school_id=w.school.id,
    )
    with estate_scope(), processor_scope():
        [alert] = record_findings([finding])
    return alert


@walks("monitoring.alerts.record_findings")
def _record_findings(w: World) -> Expect:
    _alert(w)
    return Expect("alerts_raised", w.school.id, "Steward monitoring", by_actor=False)


@walks("monitoring.alerts.alert_change")
def _alert_change(w: World) -> Expect:
    from steward.monitoring.alerts import alert_change

    alert = _alert(w)
    with tenant_scope([w.school.id]):
        alert_change(alert=alert, action="resolve_incident", note="A shared laptop", actor=w.actor)
    return Expect("alert_resolve_incident", w.school.id, w.actor.label)


@walks("monitoring.breach.breach_start")
def _breach_start(w: World) -> Expect:
    from steward.monitoring.alerts import alert_change
    from steward.monitoring.breach import breach_start

    alert = _alert(w)
    with tenant_scope([w.school.id]):
        alert_change(alert=alert, action="resolve_incident", note="A shared laptop", actor=Actor.system("dpo"))
        breach_start(alert=alert, what_happened="Records read on a laptop left signed in", aware_at=None, actor=w.actor)
    return Expect("breach_recorded", w.school.id, w.actor.label)


@walks("monitoring.breach.breach_update")
def _breach_update(w: World) -> Expect:
    from steward.monitoring.alerts import alert_change
    from steward.monitoring.breach import breach_start, breach_update

    alert = _alert(w)
    with tenant_scope([w.school.id]):
        alert_change(alert=alert, action="resolve_incident", note="A shared laptop", actor=Actor.system("dpo"))
        breach = breach_start(alert=alert, what_happened="Records read", aware_at=None, actor=Actor.system("dpo"))
        breach_update(
            breach=breach,
            what_happened="Records read on a laptop left signed in over lunch",
            aware_at=breach.aware_at,
            ico_decision="undecided",
            ico_reason="",
            actor=w.actor,
        )
    return Expect("breach_updated", w.school.id, w.actor.label)


def _desk_user(role: str = Role.PROCESSOR_SUPPORT) -> User:
    return factories.user(role, factories.processor())


def _grant(w: World, *, approved: bool = False, at: dt.datetime | None = None) -> SupportGrant:
    with tenant_scope([w.school.id]):
        user = _desk_user()
        grant = support.grant_request(
            ticket=_ticket(w), user=user, reason="See the rows", scope=["learners"], actor=Actor.of_user(user), now=at
        )
        if approved:
            support.grant_approve(grant=grant, user=w.admin, actor=Actor.system("school"))
        return grant


@walks("servicedesk.support.grant_request")
def _grant_request(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        support.grant_request(
            ticket=_ticket(w), user=_desk_user(), reason="See the rows", scope=["learners"], actor=w.actor
        )
    return Expect("support_access_requested", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_approve")
def _grant_approve(w: World) -> Expect:
    grant = _grant(w)
    with tenant_scope([w.school.id]):
        support.grant_approve(grant=grant, user=w.admin, actor=w.actor)
    return Expect("support_access_approved", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_refuse")
def _grant_refuse(w: World) -> Expect:
    grant = _grant(w)
    with tenant_scope([w.school.id]):
        support.grant_refuse(grant=grant, user=w.admin, reason="Not now", actor=w.actor)
    return Expect("support_access_refused", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_emergency")
def _grant_emergency(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        support.grant_emergency(
            ticket=_ticket(w),
            user=_desk_user(Role.PROCESSOR_ADMIN),
            incident_category="outage",
            reason="Marks lost",
            scope=["learners"],
            actor=w.actor,
        )
    return Expect("support_access_emergency", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_confirm")
def _grant_confirm(w: World) -> Expect:
    with tenant_scope([w.school.id]):
        admin = _desk_user(Role.PROCESSOR_ADMIN)
        grant = support.grant_emergency(
            ticket=_ticket(w),
            user=admin,
            incident_category="outage",
            reason="Marks lost",
            scope=["learners"],
            actor=Actor.of_user(admin),
        )
        support.grant_confirm(grant=grant, user=w.admin, actor=w.actor)
    return Expect("support_access_confirmed", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_revoke")
def _grant_revoke(w: World) -> Expect:
    grant = _grant(w, approved=True)
    with tenant_scope([w.school.id]):
        support.grant_revoke(grant=grant, user=w.admin, actor=w.actor)
    return Expect("support_access_revoked", w.school.id, w.actor.label)


@walks("servicedesk.support.end_for_ticket")
def _grant_end_for_ticket(w: World) -> Expect:
    grant = _grant(w, approved=True)
    with tenant_scope([w.school.id]):
        support.end_for_ticket(ticket=Ticket.objects.get(pk=grant.ticket_id), actor=w.actor)
    return Expect("support_access_ended", w.school.id, w.actor.label)


@walks("servicedesk.support.grant_sweep")
def _grant_sweep(w: World) -> Expect:
    _grant(w, at=dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC))
    with tenant_scope([w.school.id]):
        support.grant_sweep()
    return Expect("support_access_expired", w.school.id, "support access sweep", by_actor=False)


# --- the census and the walk ---------------------------------------------------------------------


# Command modules not named `services` (each app's `services.py` is found by itself).
OTHER_COMMAND_MODULES = (
    "portal.accounts",
    "servicedesk.attachments",
    "servicedesk.copies",
    "servicedesk.support",
    "monitoring.alerts",
    "monitoring.breach",
)


def _public_service_functions() -> set[str]:
    modules = [f"{app.name}.services" for app in pkgutil.iter_modules(steward.__path__) if app.ispkg]
    names = set()
    for dotted in [*modules, *OTHER_COMMAND_MODULES]:
        try:
            module = importlib.import_module(f"steward.{dotted}")
        except ModuleNotFoundError:
            continue
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                names.add(f"{dotted}.{name}")
    return names


def test_every_public_service_function_is_walked_or_listed_with_a_reason() -> None:
    public = _public_service_functions()
    listed = set(WALK) | set(NOT_WRITING) | set(COVERED_ELSEWHERE)
    missing = public - listed
    assert not missing, f"walk these services here, or list them as not writing with a reason: {missing}"
    assert not listed - public, f"listed but no longer a public service function: {listed - public}"
    assert not set(WALK) & (set(NOT_WRITING) | set(COVERED_ELSEWHERE))
    assert all(reason.strip() for reason in [*NOT_WRITING.values(), *COVERED_ELSEWHERE.values()])


@pytest.fixture
def world() -> World:
    school = factories.school(
        "Walk Primary", services_=("hosted_mis", "data_exchange", "parent_portal", "service_desk")
    )
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="setup"
    )
    admin = factories.user(Role.SCHOOL_ADMIN, school)
    actor = Actor(
        label="Walk Tester",
        user_id=admin.pk,
        organisation_id=school.id,
        request_id="walk-request-1",
        ip_address="192.0.2.7",
        user_agent="walker/1",
    )
    return World(school=school, admin=admin, actor=actor)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(WALK))
def test_a_writing_service_audits_itself_with_its_actor_and_school(name: str, world: World) -> None:
    with processor_scope():
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expect = WALK[name](world)
    with processor_scope():
        events = list(AuditEvent.objects.filter(id__gt=before, action=expect.action))
    assert events, f"{name} wrote no {expect.action!r} audit event"
    event = events[-1]
    assert (event.school_id, event.actor_label) == (expect.school_id, expect.label)
    if expect.by_actor:
        actor = world.actor
        assert (event.actor_user_id, event.organisation_id) == (actor.user_id, actor.organisation_id)
        assert (event.ip_address, event.request_id, event.user_agent) == ("192.0.2.7", "walk-request-1", "walker/1")
