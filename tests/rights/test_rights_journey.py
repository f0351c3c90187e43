"""The rights journey's safety rules: a request is about a person found by search (never nobody,
never one of several namesakes), an access answer is reviewed, may withhold a part for a recorded
reason, is readable by a parent, and completes only when sent or when "no data held" is decided."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, Staff
from steward.rights import people, services
from steward.rights.models import RightsRequest, WithheldItem
from steward.rights.selectors import access_review
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import processor_scope, tenant_scope
from steward.tenancy.services import membership_grant
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.ingest import builders as b
from tests.portal import families
from tests.rights.people_form import date_fields

pytestmark = [pytest.mark.time_machine(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))]

DPO = Actor.system("Dana DPO")


def _school(name: str, **learner_fields: Any) -> Organisation:
    school = factories.school(name)
    data = b.small_school()
    data["learners"][0].update(learner_fields)
    data["contacts"][1]["email"] = "raj@example.invalid"
    data["staff"] = [{"source_id": "S1", "forename": "Morgan", "surname": "Reed", "email": "m.reed@example.invalid"}]
    batch_ingest(school=school, stream=io.BytesIO(b.csv_zip(data)), format="csv-zip", mode="full", sent_by="t")
    return school


@pytest.fixture
def school() -> Organisation:
    return _school("Journey Primary", upn="F999100115001")


@pytest.fixture
def other() -> Organisation:
    """Another school with a learner of the same name and date of birth, and the same parent email."""
    return _school("Other Primary", upn="P999100215001")


def _found(school: Organisation, text: str) -> list[tuple[str, str]]:
    with tenant_scope([school.id]):
        return [(p.kind, p.name) for p in people.find_people(school_id=school.id, text=text)]


@pytest.mark.django_db
def test_people_are_found_by_name_upn_date_of_birth_and_email_in_this_school_only(
    school: Organisation, other: Organisation
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school, email="dana@journey.invalid")
    assert _found(school, "sam jones") == [("learner", "Sam Jones")]
    assert _found(school, "F999100115001") == [("learner", "Sam Jones")]
    assert _found(school, "P999100215001") == []  # the other school's UPN
    assert sorted(_found(school, "02/03/2015")) == [("learner", "Priya Jones"), ("learner", "Sam Jones")]
    assert _found(school, "alex@example.invalid") == [("contact", "Alex Jones")]
    assert _found(school, "Morgan") == [("staff", "Morgan Reed")]
    assert _found(school, "dana@journey.invalid") == [("school_user", dpo.full_name)]
    membership_grant(user=dpo, organisation=school, role=Role.SCHOOL_ADMIN)
    assert _found(school, "dana@journey.invalid") == [("school_user", dpo.full_name)]  # two roles, one person
    assert _found(other, "dana@journey.invalid") == []  # a Steward user of another school
    # Both schools hold a Sam Jones: each search answers with its own school's row only.
    with tenant_scope([school.id]):
        ours = Learner.objects.get(source_id="L1").pk
    with tenant_scope([school.id, other.id]):  # even a wider scope does not leak the other school's rows
        found = people.find_people(school_id=school.id, text="Sam Jones")
    assert [p.id for p in found] == [ours]


@pytest.mark.django_db
def test_a_parent_portal_account_is_found_by_its_email_and_name_at_its_school_only() -> None:
    acorn, birch = families.family_school("Acorn"), families.family_school("Birch", prefix="b")
    parent = families.registered_parent(acorn, "C1", name="Alex Portalname")
    assert ("parent_user", "Alex Portalname") in _found(acorn, parent.email)
    assert ("parent_user", "Alex Portalname") in _found(acorn, "portalname")
    assert _found(birch, "portalname") == []


@pytest.mark.django_db
def test_a_request_about_nobody_or_about_one_of_several_is_refused(school: Organisation) -> None:
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="No one at this school matches") as nobody:
            people.resolve(school_id=school.id, text="Nobody Atall", chosen="")
        assert "person" in nobody.value.message_dict
        with pytest.raises(ValidationError, match="people match") as several:
            people.resolve(school_id=school.id, text="Jones", chosen="")
        assert "person" in several.value.message_dict
        with pytest.raises(ValidationError, match="2 people match"):
            people.resolve(school_id=school.id, text="02/03/2015", chosen="")
        with pytest.raises(ValidationError, match="does not match the search"):
            people.resolve(school_id=school.id, text="Jones", chosen="learner:999999")
        priya = Learner.objects.get(source_id="L2").pk
        assert people.resolve(school_id=school.id, text="Jones", chosen=f"learner:{priya}").name == "Priya Jones"
        assert people.resolve(school_id=school.id, text="Morgan Reed", chosen="").kind == "staff"


@pytest.fixture
def office(school: Organisation) -> Client:
    client = Client()
    sign_in(client, factories.user(Role.SCHOOL_DPO, school))
    choose(client, school)
    return client


def _log_form(person: str, **extra: str) -> dict[str, str]:
    return {
        "action": "log",
        "person": person,
        "kind": "access",
        "requested_by": "Alex Jones (parent)",
        **date_fields(dt.date(2026, 11, 20)),
        **extra,
    }


@pytest.mark.django_db
def test_the_log_form_refuses_nobody_at_the_field_and_records_nothing(office: Client, school: Organisation) -> None:
    response = office.post("/school/rights/", _log_form("Nobody Atall"))
    page = response.content.decode()
    assert response.status_code == 400
    assert re.search(r"<title>\s*Error: Rights requests", page)  # said once, by base.html
    assert 'id="person-error"' in page and "No one at this school matches" in page
    assert 'value="Nobody Atall"' in page and 'value="20"' in page  # what was typed is kept
    ambiguous = office.post("/school/rights/", _log_form("Jones")).content.decode()
    assert "4 people match" in ambiguous and ambiguous.count('name="subject"') == 4  # the matches, to choose from
    with tenant_scope([school.id]):
        assert not RightsRequest.objects.exists()
        priya = Learner.objects.get(source_id="L2").pk
    logged = office.post("/school/rights/", _log_form("Jones", subject=f"learner:{priya}"))
    assert logged.status_code == 302
    with tenant_scope([school.id]):
        request = RightsRequest.objects.get()
    assert (request.subject_kind, request.subject_id, request.subject_label) == ("learner", priya, "Priya Jones")


def _access(school: Organisation, source_id: str = "L1", model: type[Learner] | type[Staff] = Learner) -> RightsRequest:
    with tenant_scope([school.id]):
        subject = model.objects.get(source_id=source_id)
        request = services.request_log(
            school=school,
            kind="access",
            subject_kind="learner" if model is Learner else "staff",
            subject_id=subject.pk,
            subject_label="Sam Jones",
            requested_by="Alex Jones",
            received_on=dt.date(2026, 11, 20),
            actor=DPO,
        )
        return services.request_mark_identity_checked(request=request, actor=DPO)


@pytest.mark.django_db
def test_a_withheld_part_is_left_out_of_what_is_sent_and_its_reason_is_recorded(
    school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    request = _access(school)
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="why"):
            services.access_withhold(request=request, section="mis.LearnerContact", reason=" ", actor=DPO)
        services.access_withhold(
            request=request, section="mis.LearnerContact", reason="Third-party data: names the other carer", actor=DPO
        )
        review = access_review(request=request)
        assert "Family and emergency contacts" not in [t.title for t in review.tables]
        assert [(title, item.reason) for title, item in review.withheld] == [
            ("Family and emergency contacts", "Third-party data: names the other carer")
        ]
        with django_capture_on_commit_callbacks(execute=True):
            services.access_send(request=request, method="email", email="alex@example.invalid", actor=DPO)
        request.refresh_from_db()
        assert request.status == "completed"
        item = WithheldItem.objects.get()
        assert (item.actor_label, item.reason) == ("Dana DPO", "Third-party data: names the other carer")
    [sent] = mail.outbox
    archive = zipfile.ZipFile(io.BytesIO(sent.attachments[0][1]))
    document = json.loads(archive.read("bundle.json"))
    assert "mis.LearnerContact" not in document["held"]["mis"] and "mis.Learner" in document["held"]["mis"]
    assert "Family and emergency contacts" not in archive.read("bundle.html").decode()
    with processor_scope():
        withheld = AuditEvent.objects.get(action="rights_request_withhold")
        assert withheld.detail == {"section": "mis.LearnerContact"}
        assert AuditEvent.objects.filter(action="rights_request_send").count() == 1


@pytest.mark.django_db
def test_the_html_bundle_reads_as_words_with_the_article_15_information(school: Organisation) -> None:
    request = _access(school)
    out = io.BytesIO()
    with tenant_scope([school.id]):
        services.access_bundle(request=request, actor=DPO, out=out)
        request.refresh_from_db()
        assert request.status == "in_progress"  # a download is not an answer
    archive = zipfile.ZipFile(out)
    html = archive.read("bundle.html").decode()
    for internal in ("content_hash", "change_version", "source_id", "learner_source_id", "mis.", "rights.", "_id"):
        assert internal not in html, internal
    assert "<h3>Attendance</h3>" in html and "<h3>Personal details</h3>" in html
    assert "Key to the marks" in html and "Legal forename" in html
    assert "Updated at" not in html  # when Steward stored its copy says nothing about the person
    assert "White - British" in html or "White – British" in html or "White British" in html  # WBRI decoded
    assert ">WBRI<" not in html
    for heading in ("Why the school uses this information", "Who receives it", "How long it is kept", "Your rights"):
        assert heading in html
    assert "Information Commissioner" in html and "management information system" in html
    document = json.loads(archive.read("bundle.json"))
    assert document["held"]["mis"]["mis.Learner"][0]["source_id"] == "L1"  # the JSON stays complete
    assert document["information"]["purposes"] and document["information"]["categories"]


@pytest.mark.django_db
def test_nothing_held_needs_a_recorded_decision_which_tells_the_requester(
    school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    access = _access(school)
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="Data is held"):
            services.access_no_data(request=access, method="post", email="", actor=DPO)
        # The learner is erased since the access request was made: nothing is held any more.
        erasure = services.request_log(
            school=school,
            kind="erasure",
            subject_kind="learner",
            subject_id=access.subject_id,
            subject_label="Sam Jones",
            requested_by="Alex Jones",
            received_on=dt.date(2026, 11, 20),
            actor=DPO,
        )
        services.request_mark_identity_checked(request=erasure, actor=DPO)
        services.erasure_execute(request=erasure, actor=DPO)
        with pytest.raises(ValidationError, match="holds no data"):
            services.access_send(request=access, method="email", email="alex@example.invalid", actor=DPO)
        access.refresh_from_db()
        assert access.status == "in_progress"
        with django_capture_on_commit_callbacks(execute=True):
            services.access_no_data(request=access, method="email", email="alex@example.invalid", actor=DPO)
        access.refresh_from_db()
        decided = access.events.get(action="completed")
        assert access.status == "completed" and "we hold no data" in decided.note
        assert decided.actor_label == "Dana DPO" and decided.at is not None
    [letter] = mail.outbox
    assert letter.to == ["alex@example.invalid"] and "we hold no personal data about this person" in letter.body
    with processor_scope():
        assert AuditEvent.objects.filter(action="rights_request_no_data", actor_label="Dana DPO").count() == 1


@pytest.mark.django_db
def test_sending_needs_a_real_email_address_or_the_post(school: Organisation) -> None:
    request = _access(school)
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError) as refused:
            services.access_send(request=request, method="email", email="not an address", actor=DPO)
        assert "email" in refused.value.message_dict
        with pytest.raises(ValidationError) as unchosen:
            services.access_send(request=request, method="", email="", actor=DPO)
        assert "method" in unchosen.value.message_dict
        services.access_send(request=request, method="post", email="", actor=DPO)
        assert request.events.get(action="completed").note.startswith("bundle marked sent by post")
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_portal_request_notifies_the_dpo_and_acknowledges_the_parent_with_the_due_date(
    django_capture_on_commit_callbacks: Any,
) -> None:
    school = families.family_school("Acorn")
    factories.user(Role.SCHOOL_DPO, school, email="dpo@acorn.invalid")
    parent = families.registered_parent(school, "C1")
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    learner = families.learner_id(school, "L1")
    with django_capture_on_commit_callbacks(execute=True):
        sent = portal.post("/portal/account/requests/new/", {"kind": "access", "about": f"learner-{learner}"})
    assert sent.status_code == 200 and "25 December 2026" in sent.content.decode()
    by_address = {m.to[0]: m for m in mail.outbox}
    assert "dpo@acorn.invalid" in by_address and parent.email in by_address
    assert "must be answered by 25 December 2026" in by_address["dpo@acorn.invalid"].body
    assert "must answer by 25 December 2026" in by_address[parent.email].body
