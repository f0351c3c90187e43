"""Support access in the back office, over real HTTP handling: the ICT service asks on a ticket (an
emergency only by a processor admin), the school approves after a confirmation page, the user reads
under a banner, the school revokes and sees what was read on its page; another school finds nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from steward.register.labels import action_label, model_label
from steward.servicedesk.models import GrantStatus, SupportGrant
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.servicedesk.test_support_access import DESK, _db_now, _ticket, school_with_records


@pytest.fixture
def alder(committed_db: None) -> Organisation:
    return school_with_records()


def _client(user: User, school: Organisation | None = None) -> Client:
    client = Client()
    sign_in(client, user)
    if school is not None:
        choose(client, school)
    return client


def _grants(school: Organisation) -> list[SupportGrant]:
    with tenant_scope([school.id]):
        return list(SupportGrant.objects.order_by("id"))


def test_asked_approved_read_under_a_banner_revoked_and_listed(alder: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")
    sam = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid")
    ticket = _ticket(alder, dpo, _db_now())
    desk = _client(sam)
    new = f"/processor/service-desk/{ticket.pk}/support-access/new/"
    refused = desk.post(new, {"reason": "", "scope": ["nonsense"], "hours": "9"})
    assert refused.status_code == 400 and b"Enter why the ticket needs access" in refused.content
    emergency = desk.post(
        new, {"reason": "Marks overwritten", "scope": ["learners"], "hours": "1", "incident_category": "security"}
    )
    assert emergency.status_code == 400 and b"not a processor administrator" in emergency.content
    assert _grants(alder) == []
    asked = desk.post(new, {"reason": "See why the marks are missing", "scope": ["search", "learners"], "hours": "2"})
    assert asked.status_code == 302
    (grant,) = _grants(alder)
    assert grant.status == GrantStatus.REQUESTED and grant.duration_minutes == 120

    school = _client(dpo, alder)
    page = f"/school/support-access/{grant.pk}/"
    confirm = school.post(page, {"action": "approve"})
    assert confirm.status_code == 200 and b"Are you sure you want to let the ICT service" in confirm.content
    assert _grants(alder)[0].status == GrantStatus.REQUESTED
    assert school.post(page, {"action": "approve", "confirm": "yes"}).status_code == 302
    assert _grants(alder)[0].status == GrantStatus.ACTIVE

    found = desk.get("/search/", {"q": "Quillfeather"})
    assert (
        b"Zebedee" in found.content and b"Support access" in found.content and grant.reference.encode() in found.content
    )
    # The desk's own pages read across schools and never run under the window.
    assert desk.get("/processor/service-desk/").status_code == 200
    assert desk.get(f"/processor/service-desk/{ticket.pk}/").status_code == 200
    assert school.post(page, {"action": "revoke"}).status_code == 302
    assert b"Zebedee" not in desk.get("/search/", {"q": "Quillfeather"}).content

    shown = school.get(page)
    assert shown.status_code == 200 and b"What was read" in shown.content
    assert f"{action_label('search')} ({model_label('mis.Learner')})".encode() in shown.content
    listing = school.get("/school/support-access/")
    assert grant.reference.encode() in listing.content and b"Revoked by the school" in listing.content


def test_refused_with_a_reason_and_another_schools_dpo_finds_nothing(alder: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, alder)
    sam = factories.user(Role.PROCESSOR_SUPPORT, factories.processor())
    ticket = _ticket(alder, dpo, _db_now())
    desk = _client(sam)
    desk.post(
        f"/processor/service-desk/{ticket.pk}/support-access/new/",
        {"reason": "See the marks", "scope": ["learners"], "hours": "1"},
    )
    (grant,) = _grants(alder)
    birch = factories.school("Birch Primary", services_=DESK)
    other = _client(factories.user(Role.SCHOOL_ADMIN, birch), birch)
    assert other.post(f"/school/support-access/{grant.pk}/", {"action": "approve", "confirm": "yes"}).status_code == 404
    school = _client(dpo, alder)
    empty = school.post(f"/school/support-access/{grant.pk}/", {"action": "refuse", "refusal_reason": ""})
    assert empty.status_code == 400 and b"Enter why you are refusing" in empty.content
    done = school.post(f"/school/support-access/{grant.pk}/", {"action": "refuse", "refusal_reason": "Not today"})
    assert done.status_code == 302
    assert _grants(alder)[0].status == GrantStatus.REFUSED
