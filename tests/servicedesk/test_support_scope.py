"""What a support grant opens, page by page: the areas and MIS record types the school granted, to
read only; never special category fields; every read audited with the grant. And the person's record
page as a school's DPO meets it (special category fields shown, a restricted person shows nothing)."""

from __future__ import annotations

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.mis.models import CodeValue, ProcessingRestriction
from steward.servicedesk import support
from steward.servicedesk.models import SupportGrant
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.servicedesk.test_support_access import _db_now, _ticket, school_with_records

LEARNER = "/school/records/learners/L1/"
CONTACT = "/school/records/contacts/C1/"


@pytest.fixture
def alder(committed_db: None) -> Organisation:
    return school_with_records()


def _granted(school: Organisation, scope: list[str]) -> tuple[Client, SupportGrant, User]:
    dpo = factories.user(Role.SCHOOL_DPO, school)
    sam = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    at = _db_now()
    ticket = _ticket(school, dpo, at)
    with tenant_scope([school.id]):
        grant = support.grant_request(
            ticket=ticket, user=sam, reason="Marks missing", scope=scope, actor=Actor.of_user(sam), now=at
        )
        support.grant_approve(grant=grant, user=dpo, actor=Actor.of_user(dpo), now=at)
    client = Client()
    sign_in(client, sam)
    return client, grant, dpo


def test_a_grant_opens_only_the_areas_and_record_types_it_names(alder: Organisation) -> None:
    desk, grant, _ = _granted(alder, ["search", "learners", "session-attendance"])
    page = desk.get(LEARNER)
    assert page.status_code == 200
    assert b"Zebedee" in page.content and b"Attendance" in page.content
    # Special category fields are withheld under support access, and named as withheld.
    assert b'id="withheld"' in page.content and b"Ethnicity" in page.content.split(b'id="withheld"')[1]
    # Record types, areas and changes the school did not grant are refused, saying why.
    for path in (CONTACT, "/school/flows/", "/school/batches/", "/school/rights/", "/school/audit/"):
        refused = desk.get(path)
        assert refused.status_code == 403, path
        assert f"Your support access ({grant.reference}) does not include this page".encode() in refused.content
    found = desk.get("/search/", {"q": "Quillfeather"})
    # The contact Ottoline Quillfeather matches too, but contacts were not granted.
    assert b"Zebedee" in found.content and b"Ottoline" not in found.content
    assert LEARNER.encode() in found.content


def test_a_granted_area_is_read_only(alder: Organisation) -> None:
    desk, grant, _ = _granted(alder, ["flows", "batches"])
    assert desk.get("/school/flows/").status_code == 200
    assert desk.get("/school/batches/").status_code == 200
    # A granted page refuses a form sent to it; a page that changes things is not granted at all.
    change = desk.post("/school/flows/1/", {"note": "x"})
    assert change.status_code == 403 and b"not change it" in change.content
    decide = desk.post("/school/flows/1/approve/", {"note": "x"})
    assert decide.status_code == 403 and b"does not include this page" in decide.content
    # No "search" in the scope: the search box is closed too, and no learner page opens.
    assert desk.get("/search/", {"q": "Quillfeather"}).status_code == 403
    assert desk.get(LEARNER).status_code == 403


def test_record_reads_are_in_the_grants_read_list(alder: Organisation) -> None:
    desk, grant, _ = _granted(alder, ["learners", "session-attendance"])
    assert desk.get(LEARNER).status_code == 200
    with tenant_scope([alder.id]):
        reads = support.grant_reads(SupportGrant.objects.get(pk=grant.pk))
    seen = {(e.object_type, tuple(e.object_ids)) for e in reads}
    assert ("mis.Learner", ("L1",)) in seen
    assert any(t == "mis.SessionAttendance" and ids for t, ids in seen)


def test_after_revocation_the_record_page_is_gone(alder: Organisation) -> None:
    desk, grant, dpo = _granted(alder, ["learners"])
    assert desk.get(LEARNER).status_code == 200
    with tenant_scope([alder.id]):
        support.grant_revoke(grant=SupportGrant.objects.get(pk=grant.pk), user=dpo, actor=Actor.of_user(dpo))
    after = desk.get(LEARNER)
    # No window, no school: the processor user is sent to choose one, and holds a role in none.
    assert after.status_code == 302 and "/schools/" in after["Location"]


def test_the_schools_dpo_sees_the_whole_record_and_a_restricted_person_shows_nothing(alder: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder)
    client = Client()
    sign_in(client, dpo)
    choose(client, alder)
    page = client.get(LEARNER)
    assert page.status_code == 200 and b"Ethnicity" in page.content and b'id="withheld"' not in page.content
    # Codes read as words, with the code kept: "Female (F)", not "F".
    female = CodeValue.objects.get(code_set="gender", code="F").description
    assert f"{female} (F)".encode() in page.content
    assert client.get("/school/records/learners/NOPE/").status_code == 404
    assert client.get("/school/records/groups/L1/").status_code == 404
    with tenant_scope([alder.id]):
        ProcessingRestriction.objects.create(school_id=alder.id, record_type="learners", source_id="L1")
    restricted = client.get(LEARNER)
    assert restricted.status_code == 200 and b'id="restricted"' in restricted.content
    assert b"2 March 2015" not in restricted.content


def test_another_schools_person_is_not_found(alder: Organisation) -> None:
    birch = factories.school("Birch Primary")
    admin = factories.user(Role.SCHOOL_ADMIN, birch)
    client = Client()
    sign_in(client, admin)
    choose(client, birch)
    assert client.get(LEARNER).status_code == 404
