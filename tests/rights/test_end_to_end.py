"""Each type of rights request, end to end, against data every app holds: MIS records sent through
ingest, a disclosure made through a real release, a parent's portal account, audit events.

The school's DPO works in the back office through the real sign-in; the parent through the portal.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from steward.audit.actor import Actor
from steward.ingest.ctf import parse_ctf
from steward.mis.models import Contact, Learner, ProcessingRestriction, Tombstone
from steward.portal.models import ParentAccount
from steward.portal.selectors import children_of
from steward.register.models import ProcessingActivity, Recipient
from steward.rights import services
from steward.rights.models import RightsRequest
from steward.rights.tasks import send_rights_reminders
from steward.sharing import selectors as sharing
from steward.sharing import services as flows
from steward.sharing.models import Disclosure
from steward.tenancy.models import DataProtectionContact, Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.ingest import builders as b
from tests.portal import families
from tests.rights import people_form

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # relative to today: `make test-dates`

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
UPN = "F825300618043"


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Rowan Primary", services_=("hosted_mis", "parent_portal", "data_exchange"))
    records = families.family_records()
    records["learners"][0]["upn"] = UPN
    families.send(school, records, mode="full")
    return school


@pytest.fixture
def dpo(school: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, school, email="dpo@rowan.invalid")


@pytest.fixture
def admin(school: Organisation) -> User:
    return factories.user(Role.SCHOOL_ADMIN, school, email="mis-admin@rowan.invalid")


@pytest.fixture
def office(client: Client, dpo: User, school: Organisation) -> Client:
    sign_in(client, dpo)
    choose(client, school)
    return client


@pytest.fixture
def parent(school: Organisation) -> ParentAccount:
    return families.registered_parent(school, "C1")


def disclose_attendance(school: Organisation) -> Disclosure:
    """The LA's attendance service pulls session attendance through an approved flow, as the API does."""
    recipient = Recipient.objects.get(code="la-attendance")
    activity = ProcessingActivity.objects.get(service="data_exchange")
    with tenant_scope([school.id]):
        flow = flows.flow_request(
            school=school,
            recipient=recipient,
            activity=activity,
            purpose="Monitor attendance",
            lawful_basis="6.1.c",
            categories=["learner.identity", "learner.attendance"],
            actor=Actor.system("LA"),
        )
        flows.flow_approve(flow=flow, actor=Actor.system("DPO"))
        release = sharing.release_for(
            sharing.flows_between(school_id=school.id, recipient_id=recipient.id), "session-attendance"
        )
        assert release is not None
        page = sharing.records_page(school_id=school.id, release=release, since=0, limit=100)
        record_ids, subject_ids = sharing.page_ids("session-attendance", page)
        disclosure = flows.record_disclosure(
            school_id=school.id,
            recipient_id=recipient.id,
            release=release,
            since=0,
            next_since=page.next_since,
            record_ids=record_ids,
            subject_ids=subject_ids,
            channel="api",
        )
    assert disclosure is not None and "L1" in disclosure.subject_ids
    return disclosure


def released_learners(school: Organisation) -> set[str]:
    recipient = Recipient.objects.get(code="la-attendance")
    with tenant_scope([school.id]):
        release = sharing.release_for(
            sharing.flows_between(school_id=school.id, recipient_id=recipient.id), "session-attendance"
        )
        assert release is not None
        page = sharing.records_page(school_id=school.id, release=release, since=0, limit=100)
    return {str(r["learner_source_id"]) for r in page.rows}


def log(office: Client, kind: str, subject_kind: str, subject_id: int, note: str = "") -> RightsRequest:
    form = people_form.log_form(kind, subject_kind, subject_id, received_on=timezone.localdate(), note=note)
    response = office.post("/school/rights/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    return RightsRequest.objects.filter(kind=kind).order_by("-id").first()  # type: ignore[return-value]


def act(office: Client, request: RightsRequest, action: str, **data: str) -> Any:
    return office.post(f"/school/rights/{request.id}/", {"action": action, **data})


def fresh(request: RightsRequest) -> RightsRequest:
    with tenant_scope([request.school_id]):
        found: RightsRequest = RightsRequest.objects.get(pk=request.pk)
        found.actions = [e.action for e in found.events.all()]  # type: ignore[attr-defined]
        return found


def learner_pk(school: Organisation, source_id: str = "L1") -> int:
    return families.learner_id(school, source_id)


def unzip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:400]
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_an_access_bundle_holds_every_apps_data_the_audit_events_and_the_disclosures(
    office: Client, school: Organisation, parent: ParentAccount, django_capture_on_commit_callbacks: Any
) -> None:
    disclosure = disclose_attendance(school)
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    assert portal.get(f"/portal/children/{learner_pk(school)}/").status_code == 200
    with tenant_scope([school.id]):
        request = log(office, "access", "learner", learner_pk(school))
    assert act(office, request, "bundle").status_code == 400  # identity first
    assert act(office, request, "identity").status_code == 302
    bundle = unzip(act(office, request, "bundle"))
    names = set(bundle.namelist())
    assert names == {"bundle.json", "bundle.html", "README.txt"}  # the PDF follows: test_bundle_pdf_journey
    document = json.loads(bundle.read("bundle.json"))
    held = document["held"]
    assert [r["source_id"] for r in held["mis"]["mis.Learner"]] == ["L1"]
    assert [r["source_id"] for r in held["mis"]["mis.Behaviour"]] == ["B1"]
    assert len(held["mis"]["mis.SessionAttendance"]) == 2
    assert [r["kind"] for r in held["rights"]["rights.RightsRequest"]] == ["Access (Art. 15)"]
    assert [r["recipient"] for r in held["sharing"]["sharing.Disclosure"]] == [disclosure.recipient.name]
    actions = [e["action"] for e in document["audit_events"]]
    assert "portal_view" in actions and "rights_request_logged" in actions and "rights_request_identity" in actions
    assert [(d["record_type"], d["channel"]) for d in document["disclosures"]] == [("session-attendance", "API")]
    html = bundle.read("bundle.html").decode()
    assert "Private comment about Sam" in html and disclosure.recipient.name in html
    assert "<script" not in html and "http" not in html.split("</head>")[0]
    downloaded = fresh(request)  # downloading is reading, not answering
    assert downloaded.status == "in_progress" and downloaded.actions[-1] == "downloaded"  # type: ignore[attr-defined]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert act(office, request, "send", method="email", email="alex@example.invalid").status_code == 302
    done = fresh(request)
    assert done.status == "completed" and done.actions[-1] == "completed"  # type: ignore[attr-defined]
    [sent] = mail.outbox
    assert sent.to == ["alex@example.invalid"] and sent.attachments[0][0] == f"personal-data-{request.id}.zip"


def test_a_contacts_bundle_holds_their_portal_invitation(school: Organisation, parent: ParentAccount) -> None:
    with tenant_scope([school.id]):
        contact = Contact.objects.get(source_id="C1")
        request = services.request_log(
            school=school,
            kind="access",
            subject_kind="contact",
            subject_id=contact.pk,
            subject_label="Alex Jones",
            requested_by="Alex Jones",
            received_on=timezone.localdate(),
            actor=Actor.system("DPO"),
        )
        services.request_mark_identity_checked(request=request, actor=Actor.system("DPO"))
        out = io.BytesIO()
        services.access_bundle(request=request, actor=Actor.system("DPO"), out=out)
    held = json.loads(zipfile.ZipFile(out).read("bundle.json"))["held"]
    assert [r["email"] for r in held["portal"]["portal.PortalInvitation"]] == ["alex@example.invalid"]
    assert [r["source_id"] for r in held["mis"]["mis.Contact"]] == ["C1"]
    assert {r["source_id"] for r in held["mis"]["mis.LearnerContact"]} == {"LC1", "LC4"}


def test_erasure_is_previewed_then_confirmed_and_recipients_are_told(office: Client, school: Organisation) -> None:
    disclose_attendance(school)
    with tenant_scope([school.id]):
        request = log(office, "erasure", "learner", learner_pk(school))
    act(office, request, "identity")
    page = office.get(f"/school/rights/{request.id}/").content.decode()
    assert "mis.Learner" in page and "mis.Behaviour" in page and "sharing.Disclosure" in page
    refused = act(office, request, "erase")
    assert refused.status_code == 400 and "confirm" in refused.content.decode()
    with tenant_scope([school.id]):
        assert Learner.objects.filter(source_id="L1").exists()
    assert act(office, request, "erase", confirm="yes").status_code == 302
    with tenant_scope([school.id]):
        assert not Learner.objects.filter(source_id="L1").exists()
        assert ("learners", "L1") in set(Tombstone.objects.values_list("record_type", "source_id"))
        assert list(request.notifications.values_list("recipient__code", flat=True)) == ["la-attendance"]
        assert request.proof.deleted["mis.Behaviour"] == 1
    assert fresh(request).status == "completed"


def test_restriction_takes_the_learner_out_of_flows_and_the_portal_until_lifted(
    office: Client, school: Organisation, parent: ParentAccount
) -> None:
    disclose_attendance(school)
    sam = learner_pk(school)
    with tenant_scope([school.id]):
        request = log(office, "restriction", "learner", sam)
    act(office, request, "identity")
    assert act(office, request, "restrict").status_code == 302
    assert released_learners(school) == {"L2"}
    with tenant_scope([school.id]):
        assert list(children_of(parent.pk)) == []
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    assert portal.get(f"/portal/children/{sam}/").status_code == 404
    assert fresh(request).status == "completed"
    assert act(office, request, "lift").status_code == 302
    assert released_learners(school) == {"L1", "L2"}
    with tenant_scope([school.id]):
        assert [c.source_id for c in children_of(parent.pk)] == ["L1"]
        assert not ProcessingRestriction.objects.exists()
    assert fresh(request).actions[-2:] == ["completed", "restriction_lifted"]  # type: ignore[attr-defined]


def test_portability_gives_a_ctf_that_parses_back_with_json_and_csv(office: Client, school: Organisation) -> None:
    with tenant_scope([school.id]):
        request = log(office, "portability", "learner", learner_pk(school))
    act(office, request, "identity")
    portable = unzip(act(office, request, "portable"))
    content = parse_ctf(portable.read("learner.ctf.xml"))
    rows = {record_type: [values for _, values in rows] for record_type, rows in content.rows.items()}
    assert [r["upn"] for r in rows["learners"]] == [UPN]
    assert sorted(r["forename"] for r in rows["contacts"]) == ["Alex", "Kim"]
    assert len(rows["session-attendance"]) == 2
    records = json.loads(portable.read("records.json"))
    assert [r["source_id"] for r in records["mis.Learner"]] == ["L1"]
    csv_text = portable.read("csv/Behaviour.csv").decode()
    assert csv_text.splitlines()[0].startswith("id,source_id") and "Private comment about Sam" in csv_text
    assert fresh(request).status == "completed"


def test_a_parents_rectification_is_forwarded_to_the_mis_admins_and_completed_by_the_correcting_batch(
    school: Organisation,
    parent: ParentAccount,
    dpo: User,
    admin: User,
    client: Client,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    with tenant_scope([school.id]):
        alex = Contact.objects.get(source_id="C1")
    sent = portal.post(
        "/portal/account/requests/new/",
        {"kind": "rectification", "about": f"contact-{alex.pk}", "note": "My mobile is 07700 900123"},
    )
    assert sent.status_code == 200 and "Request sent" in sent.content.decode()
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get()
    assert (request.requested_by, request.subject_kind, request.subject_id) == (
        "Alex Jones (parent portal)",
        "contact",
        alex.pk,
    )
    sign_in(client, dpo)
    choose(client, school)
    act(client, request, "identity")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert act(client, request, "forward").status_code == 302
    assert [m.to for m in mail.outbox] == [["mis-admin@rowan.invalid"]]
    assert "My mobile is 07700 900123" in mail.outbox[0].body and "C1" in mail.outbox[0].body
    families.send(
        school, {"contacts": [b.contact("C2", forename="Raj", surname="Shah", email="raj.new@example.invalid")]}
    )
    assert fresh(request).status == "in_progress"  # another record changed: not this one
    families.send(school, {"contacts": [b.contact("C1", phone_mobile="07700 900123")]})
    done = fresh(request)
    assert done.status == "completed"
    with tenant_scope([school.id]):
        note = done.events.get(action="completed").note
        batch_id = str(school_batches(school)[-1])
    assert note == f"corrected in MIS batch {batch_id}"


def school_batches(school: Organisation) -> list[Any]:
    from steward.ingest.models import IngestBatch

    return list(IngestBatch.objects.filter(school=school).order_by("received_at").values_list("id", flat=True))


def test_an_objection_is_decided_and_an_upheld_one_restricts(office: Client, school: Organisation) -> None:
    with tenant_scope([school.id]):
        upheld = log(office, "objection", "learner", learner_pk(school))
        rejected = log(office, "objection", "learner", learner_pk(school, "L2"))
    for request in (upheld, rejected):
        act(office, request, "identity")
    assert act(office, upheld, "uphold", reason="").status_code == 400
    assert act(office, upheld, "uphold", reason="No overriding grounds").status_code == 302
    assert act(office, rejected, "reject", reason="Needed for safeguarding (compelling grounds)").status_code == 302
    assert act(office, upheld, "forward").status_code == 403  # not an action on an objection
    with tenant_scope([school.id]):
        assert list(ProcessingRestriction.objects.values_list("source_id", flat=True)) == ["L1"]
    assert (fresh(upheld).status, fresh(rejected).status) == ("completed", "refused")
    assert fresh(rejected).actions[-1] == "refused"  # type: ignore[attr-defined]


def test_an_extension_is_recorded_with_its_reason_and_capped(office: Client, school: Organisation) -> None:
    with tenant_scope([school.id]):
        request = log(office, "access", "learner", learner_pk(school))
    too_late = (request.received_on + dt.timedelta(days=100)).isoformat()
    assert act(office, request, "extend", extend_to=too_late, reason="Many records").status_code == 400
    ok = (request.deadline + dt.timedelta(days=30)).isoformat()
    assert act(office, request, "extend", extend_to=ok, reason="Many records").status_code == 302
    extended = fresh(request)
    assert (extended.extended_deadline.isoformat(), extended.extension_reason) == (ok, "Many records")  # type: ignore[union-attr]


def test_another_schools_request_is_a_404_and_nothing_changes(office: Client, school: Organisation) -> None:
    other = factories.school("Hazel Academy")
    families.send(other, families.family_records(), mode="full")
    with tenant_scope([other.id]):
        theirs = services.request_log(
            school=other,
            kind="access",
            subject_kind="learner",
            subject_id=learner_pk(other),
            subject_label="Someone",
            requested_by="Someone",
            received_on=timezone.localdate(),
            actor=Actor.system("DPO"),
        )
    assert office.get(f"/school/rights/{theirs.id}/").status_code == 404
    assert act(office, theirs, "identity").status_code == 404
    assert fresh(theirs).identity_checked is False


@pytest.fixture
def due_requests(school: Organisation, admin: User) -> dict[str, RightsRequest]:
    today = timezone.localdate()
    with tenant_scope([school.id]):
        DataProtectionContact.objects.create(school=school, kind="dpo", name="Dee", email="dpo-contact@rowan.invalid")
        made = {
            name: services.request_log(
                school=school,
                kind="access",
                subject_kind="learner",
                subject_id=learner_pk(school),
                subject_label="Sam",
                requested_by="Alex",
                received_on=today - dt.timedelta(days=days_ago),
                actor=Actor.system("DPO"),
            )
            for name, days_ago in (("overdue", 40), ("due_soon", 26), ("later", 2))
        }
    return made


def test_reminders_go_to_the_dpo_and_admins_once_a_day(
    school: Organisation, due_requests: dict[str, RightsRequest], django_capture_on_commit_callbacks: Capture
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert send_rights_reminders.call() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["dpo-contact@rowan.invalid", "mis-admin@rowan.invalid"]
    body = mail.outbox[0].body
    assert f"request {due_requests['overdue'].id}" in body and "OVERDUE" in body
    assert f"request {due_requests['due_soon'].id}" in body and f"request {due_requests['later'].id}" not in body
    assert "Sam" not in body  # names stay behind sign-in
    with django_capture_on_commit_callbacks(execute=True):
        assert send_rights_reminders.call() == 0
    assert len(mail.outbox) == 2
    assert fresh(due_requests["overdue"]).actions.count("reminder_sent") == 1  # type: ignore[attr-defined]


def test_a_parent_asks_for_themselves_or_their_child_and_no_one_else(
    school: Organisation, parent: ParentAccount
) -> None:
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    page = portal.get("/portal/account/requests/new/").content.decode()
    assert "Me, at Rowan Primary" in page and "Sam Jones, at Rowan Primary" in page and "Priya" not in page
    assert 'href="/portal/account/requests/new/"' in portal.get("/portal/account/").content.decode()
    priya = learner_pk(school, "L2")
    refused = portal.post("/portal/account/requests/new/", {"kind": "erasure", "about": f"learner-{priya}"})
    assert refused.status_code == 400
    with tenant_scope([school.id]):
        assert not RightsRequest.objects.exists()
    sam = learner_pk(school)
    sent = portal.post("/portal/account/requests/new/", {"kind": "objection", "about": f"learner-{sam}"})
    assert sent.status_code == 200
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get()
    assert (request.kind, request.subject_kind, request.subject_id, request.requested_by) == (
        "objection",
        "learner",
        sam,
        "Alex Jones (parent portal)",
    )


def test_the_reminders_are_scheduled_every_morning() -> None:
    from steward.core.schedule import due

    morning = timezone.make_aware(dt.datetime(2026, 11, 30, 7, 0))  # noqa: DTZ001 - made aware here
    assert [e.task for e in due(morning)] == ["steward.rights.tasks.send_rights_reminders"]


def test_a_parent_portal_account_is_a_subject_of_its_own(
    office: Client, school: Organisation, parent: ParentAccount
) -> None:
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    page = portal.get("/portal/account/requests/new/").content.decode()
    assert f'value="account-{school.id}"' in page  # the parent can ask about their own account
    with tenant_scope([school.id]):
        request = log(office, "access", "parent_user", parent.pk)
    assert act(office, request, "identity").status_code == 302
    document = json.loads(unzip(act(office, request, "bundle")).read("bundle.json"))
    assert document["held"]["portal"]["portal.ParentAccount"][0]["email"] == parent.email
    assert {"portal_sign_in"} <= {e["action"] for e in document["audit_events"]}  # their own sign-ins

    with tenant_scope([school.id]):
        erasure = log(office, "erasure", "parent_user", parent.pk)
    assert act(office, erasure, "identity").status_code == 302
    assert act(office, erasure, "erase", confirm="yes").status_code == 302
    assert not ParentAccount.objects.filter(pk=parent.pk).exists()
    assert portal.get("/portal/").status_code == 302  # signed out: the account is gone
