"""Rights requests stay inside the school that receives them.

Two schools hold the same MIS source ids (the family records), each has its own administrator,
DPO, staff member and registered parent; the processor has its own staff. Whoever a school's
administrator or DPO names by record id, a subject of the other school or of the processor is
refused before anything is recorded, and nothing about them changes. A person who belongs to both
schools, erased or restricted by one, keeps their part at the other.

Everything runs through the real sign-in and the real back office and portal pages.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from steward.audit.models import AuditEvent
from steward.mis.models import Contact, Learner, ProcessingRestriction, Staff
from steward.portal.models import ParentAccount, ParentLink
from steward.rights.models import RightsRequest, RightsRequestEvent
from steward.tenancy.models import Membership, Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.portal import families
from tests.rights import people_form

pytestmark = pytest.mark.django_db


@dataclass
class Side:
    """One school with its people: the ids another school might try to name."""

    school: Organisation
    admin: User
    dpo: User
    parent: ParentAccount
    learner: int
    contact: int
    staff: int


def _side(name: str, prefix: str) -> Side:
    school = factories.school(name)
    records = families.family_records(prefix)
    records["staff"] = [{"source_id": "T1", "forename": "Horatio", "surname": f"Pennyworth{prefix}"}]
    families.send(school, records, mode="full")
    admin = factories.user(Role.SCHOOL_ADMIN, school, email=f"admin{prefix}@{name.lower()}.invalid")
    dpo = factories.user(Role.SCHOOL_DPO, school, email=f"dpo{prefix}@{name.lower()}.invalid")
    parent = families.registered_parent(school, "C1")
    with tenant_scope([school.id]):
        ids = (
            Learner.objects.get(source_id="L1").pk,
            Contact.objects.get(source_id="C1").pk,
            Staff.objects.get(source_id="T1").pk,
        )
    return Side(school, admin, dpo, parent, *ids)


@pytest.fixture
def meadowbank() -> Side:
    return _side("Meadowbank", "")


@pytest.fixture
def riverside() -> Side:
    return _side("Riverside", "-r")


@pytest.fixture
def processor_admin() -> User:
    return factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="admin@ict.invalid")


def office(user: User, school: Organisation) -> Client:
    client = Client()
    sign_in(client, user)
    choose(client, school)
    return client


def log_form(kind: str, subject_kind: str, subject_id: int) -> dict[str, Any]:
    """The subject searched for as the other school would and posted as if chosen from the results."""
    return people_form.log_form(kind, subject_kind, subject_id, received_on=timezone.localdate())


def all_requests(*schools: Organisation) -> int:
    with tenant_scope([s.id for s in schools]):
        return RightsRequest.objects.count() + RightsRequestEvent.objects.count()


def foreign_subjects(theirs: Side, processor_admin: User) -> list[tuple[str, int, str]]:
    """(subject kind, record id, who) for every kind of subject that belongs to the other side."""
    return [
        ("learner", theirs.learner, "their learner"),
        ("contact", theirs.contact, "their parent's contact record"),
        ("staff", theirs.staff, "their staff member"),
        ("school_user", theirs.admin.pk, "their administrator"),
        ("school_user", theirs.dpo.pk, "their DPO"),
        ("school_user", processor_admin.pk, "the processor's administrator"),
        ("parent_user", theirs.parent.pk, "their parent's portal account"),
    ]


def assert_untouched(theirs: Side, processor_admin: User) -> None:
    """The other side's people can still sign in, with their memberships and links, and their
    MIS records are neither restricted nor gone."""
    for user in (theirs.admin, theirs.dpo, processor_admin):
        user.refresh_from_db()
        assert user.is_active and "erased" not in user.email
        assert Membership.objects.filter(user=user, restricted_at__isnull=True).count() == 1
    office(theirs.dpo, theirs.school)  # signs in and chooses the school
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert ParentLink.objects.filter(parent=theirs.parent, restricted_at__isnull=True).count() == 1
    families.portal_sign_in(Client(), theirs.parent.email)
    with tenant_scope([theirs.school.id]):
        assert Learner.objects.filter(pk=theirs.learner).exists()
        assert Contact.objects.filter(pk=theirs.contact).exists()
        assert Staff.objects.filter(pk=theirs.staff).exists()
        assert not ProcessingRestriction.objects.exists()


@pytest.mark.parametrize("role", ["admin", "dpo"])
@pytest.mark.parametrize("direction", ["meadowbank->riverside", "riverside->meadowbank"])
def test_a_school_cannot_log_a_request_about_anyone_not_its_own(
    role: str, direction: str, meadowbank: Side, riverside: Side, processor_admin: User
) -> None:
    ours, theirs = (meadowbank, riverside) if direction.startswith("meadowbank") else (riverside, meadowbank)
    client = office(getattr(ours, role), ours.school)
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        logged_before = AuditEvent.objects.filter(action="rights_request_logged").count()
    for subject_kind, subject_id, who in foreign_subjects(theirs, processor_admin):
        for kind in ("access", "erasure", "restriction"):
            response = client.post("/school/rights/", log_form(kind, subject_kind, subject_id))
            assert response.status_code == 400, (who, kind)
            page = response.content.decode()
            assert "does not match the search" in page or "No one at this school matches" in page, (who, kind)
    assert all_requests(meadowbank.school, riverside.school) == 0
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert AuditEvent.objects.filter(action="rights_request_logged").count() == logged_before
    assert_untouched(theirs, processor_admin)
    # The same form logs a request about the school's own subjects of every kind.
    for subject_kind, subject_id in (
        ("learner", ours.learner),
        ("contact", ours.contact),
        ("staff", ours.staff),
        ("school_user", ours.admin.pk),
        ("parent_user", ours.parent.pk),
    ):
        assert client.post("/school/rights/", log_form("access", subject_kind, subject_id)).status_code == 302
    with tenant_scope([ours.school.id]):
        assert RightsRequest.objects.count() == 5


def test_processor_staff_cannot_log_requests_in_a_school(meadowbank: Side, processor_admin: User) -> None:
    support = factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="support@ict.invalid")
    for user in (processor_admin, support):
        client = Client()
        sign_in(client, user)
        assert client.post("/schools/switch/", {"school": meadowbank.school.id}).status_code == 403
        response = client.post("/school/rights/", log_form("access", "learner", meadowbank.learner))
        assert response.status_code == 302 and "/school/rights/" not in response["Location"]
    assert all_requests(meadowbank.school) == 0


def _smuggled(ours: Side, kind: str, subject_kind: str, subject_id: int) -> RightsRequest:
    """A request naming another school's subject, as one logged before the check existed (the row is
    written directly: no service will write it now), already identity-checked."""
    with tenant_scope([ours.school.id]):
        request: RightsRequest = RightsRequest.objects.create(
            school=ours.school,
            kind=kind,
            subject_kind=subject_kind,
            subject_id=subject_id,
            subject_label="Someone",
            requested_by="Someone",
            received_on=timezone.localdate(),
            deadline=timezone.localdate(),
            identity_checked=True,
        )
    return request


ACTIONS = {"access": "bundle", "erasure": "erase", "restriction": "restrict", "portability": "portable"}


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_no_action_on_an_old_request_reaches_another_schools_subject(
    kind: str, meadowbank: Side, riverside: Side, processor_admin: User
) -> None:
    client = office(meadowbank.dpo, meadowbank.school)
    for subject_kind, subject_id, who in foreign_subjects(riverside, processor_admin):
        request = _smuggled(meadowbank, kind, subject_kind, subject_id)
        response = client.post(f"/school/rights/{request.id}/", {"action": ACTIONS[kind], "confirm": "yes"})
        assert response.status_code == 400, who
        assert "this school has no" in response.content.decode()
        assert "Content-Disposition" not in response
        assert client.get(f"/school/rights/{request.id}/").status_code in (200, 400)  # the page still opens
        with tenant_scope([meadowbank.school.id]):
            assert not RightsRequestEvent.objects.filter(request=request).exists(), who
            assert RightsRequest.objects.get(pk=request.pk).status == RightsRequest.Status.RECEIVED
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not AuditEvent.objects.filter(action=f"rights_request_{ACTIONS[kind]}").exists()
    assert_untouched(riverside, processor_admin)


def test_a_parent_can_ask_only_about_themselves_and_their_own_children(meadowbank: Side, riverside: Side) -> None:
    portal = Client()
    families.portal_sign_in(portal, meadowbank.parent.email)
    with tenant_scope([riverside.school.id]):
        priya = Learner.objects.get(source_id="L2").pk  # a child at their own school who is not theirs
    with tenant_scope([meadowbank.school.id]):
        priya_here = Learner.objects.get(source_id="L2").pk
    for about in (
        f"learner-{riverside.learner}",
        f"learner-{priya}",
        f"learner-{priya_here}",
        f"contact-{riverside.contact}",
        f"account-{riverside.school.id}",
    ):
        response = portal.post("/portal/account/requests/new/", {"kind": "access", "about": about})
        assert response.status_code == 400, about
    assert all_requests(meadowbank.school, riverside.school) == 0
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert not AuditEvent.objects.filter(action="rights_request_logged").exists()
    sent = portal.post("/portal/account/requests/new/", {"kind": "access", "about": f"learner-{meadowbank.learner}"})
    assert sent.status_code == 200
    with tenant_scope([meadowbank.school.id]):
        assert RightsRequest.objects.get().subject_id == meadowbank.learner


# --- A person who belongs to both schools --------------------------------------------------------


def _answer(client: Client, ours: Side, kind: str, subject_kind: str, subject_id: int, action: str) -> Any:
    assert client.post("/school/rights/", log_form(kind, subject_kind, subject_id)).status_code == 302
    with tenant_scope([ours.school.id]):
        request = RightsRequest.objects.filter(kind=kind).latest("id")
    assert client.post(f"/school/rights/{request.id}/", {"action": "identity"}).status_code == 302
    return client.post(f"/school/rights/{request.id}/", {"action": action, "confirm": "yes"})


@pytest.fixture
def shared_user(meadowbank: Side, riverside: Side) -> User:
    """A business manager who is Meadowbank's administrator and Riverside's DPO."""
    user = factories.user(Role.SCHOOL_ADMIN, meadowbank.school, email="shared@trust.invalid")
    Membership.objects.create(user=user, organisation=riverside.school, role=Role.SCHOOL_DPO)
    return user


def test_erasing_a_user_of_two_schools_removes_only_this_schools_membership(
    meadowbank: Side, riverside: Side, shared_user: User
) -> None:
    client = office(meadowbank.dpo, meadowbank.school)
    assert _answer(client, meadowbank, "erasure", "school_user", shared_user.pk, "erase").status_code == 302
    shared_user.refresh_from_db()
    assert shared_user.is_active and shared_user.email == "shared@trust.invalid"
    assert list(Membership.objects.filter(user=shared_user).values_list("organisation_id", flat=True)) == [
        riverside.school.id
    ]
    theirs = office(shared_user, riverside.school)  # still signs in and works at Riverside
    assert theirs.get("/school/rights/").status_code == 200
    assert theirs.post("/schools/switch/", {"school": meadowbank.school.id}).status_code == 403


def test_restricting_a_user_of_two_schools_restricts_them_at_this_school_only(
    meadowbank: Side, riverside: Side, shared_user: User
) -> None:
    client = office(meadowbank.dpo, meadowbank.school)
    signed_in = office(shared_user, meadowbank.school)  # a session opened before the restriction
    assert _answer(client, meadowbank, "restriction", "school_user", shared_user.pk, "restrict").status_code == 302
    shared_user.refresh_from_db()
    assert shared_user.is_active
    assert signed_in.get("/school/rights/").status_code == 302  # Meadowbank's pages are closed to them now
    assert signed_in.post("/schools/switch/", {"school": meadowbank.school.id}).status_code == 403
    choose(signed_in, riverside.school)  # Riverside's are not
    assert signed_in.get("/school/rights/").status_code == 200
    assert Membership.objects.get(user=shared_user, organisation=riverside.school).restricted_at is None

    with tenant_scope([meadowbank.school.id]):
        request = RightsRequest.objects.get(kind="restriction")
    assert client.post(f"/school/rights/{request.id}/", {"action": "lift"}).status_code == 302
    choose(signed_in, meadowbank.school)


def test_restricting_a_user_of_one_school_stops_their_sign_in(meadowbank: Side) -> None:
    client = office(meadowbank.dpo, meadowbank.school)
    assert _answer(client, meadowbank, "restriction", "school_user", meadowbank.admin.pk, "restrict").status_code == 302
    meadowbank.admin.refresh_from_db()
    assert not meadowbank.admin.is_active


def test_the_access_bundle_of_a_user_of_two_schools_holds_only_this_schools_part(
    meadowbank: Side, riverside: Side, shared_user: User
) -> None:
    assert office(shared_user, riverside.school).get("/school/rights/").status_code == 200  # audited at Riverside
    client = office(meadowbank.dpo, meadowbank.school)
    response = _answer(client, meadowbank, "access", "school_user", shared_user.pk, "bundle")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    document = json.loads(archive.read("bundle.json"))
    tenancy = document["held"]["tenancy"]
    assert [m["organisation"] for m in tenancy["tenancy.Membership"]] == ["Meadowbank"]
    assert "password" not in tenancy["tenancy.User"][0]
    events = document["held"]["audit"]["audit.AuditEvent"]
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        theirs = AuditEvent.objects.filter(actor_user_id=shared_user.pk)
        assert theirs.filter(Q(school=riverside.school) | Q(organisation=riverside.school)).exists()
        assert len(events) == theirs.filter(Q(school=meadowbank.school) | Q(organisation=meadowbank.school)).count()
    assert "Riverside" not in json.dumps(document)


@pytest.fixture
def shared_parent(meadowbank: Side) -> tuple[ParentAccount, Organisation]:
    """Meadowbank's parent Alex also has children at a third school, Birch, with the same email."""
    birch = families.family_school("Birch")
    token = families.invite(birch, "C1")
    from steward.portal.services import invitation_accept

    invitation_accept(token=token, existing=meadowbank.parent)
    return meadowbank.parent, birch


def test_erasing_a_parent_account_of_two_schools_removes_only_this_schools_links(
    meadowbank: Side, shared_parent: tuple[ParentAccount, Organisation]
) -> None:
    parent, birch = shared_parent
    client = office(meadowbank.dpo, meadowbank.school)
    assert _answer(client, meadowbank, "erasure", "parent_user", parent.pk, "erase").status_code == 302
    assert ParentAccount.objects.filter(pk=parent.pk, is_active=True).exists()
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert list(ParentLink.objects.filter(parent=parent).values_list("school_id", flat=True)) == [birch.id]
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    home = portal.get("/portal/").content.decode()
    assert "Birch" in home and "Meadowbank" not in home


def test_restricting_a_parent_account_of_two_schools_restricts_only_this_schools_links(
    meadowbank: Side, shared_parent: tuple[ParentAccount, Organisation]
) -> None:
    parent, birch = shared_parent
    client = office(meadowbank.dpo, meadowbank.school)
    assert _answer(client, meadowbank, "restriction", "parent_user", parent.pk, "restrict").status_code == 302
    parent.refresh_from_db()
    assert parent.is_active
    with processor_scope():  # behind RLS: outside a scope a read sees nothing
        assert ParentLink.objects.get(parent=parent, school=birch).restricted_at is None
    portal = Client()
    families.portal_sign_in(portal, parent.email)
    home = portal.get("/portal/").content.decode()
    assert "Birch" in home and "Meadowbank" not in home
    assert portal.get(f"/portal/children/{meadowbank.learner}/").status_code == 404


def test_restricting_a_parent_account_of_one_school_stops_its_sign_in(meadowbank: Side) -> None:
    client = office(meadowbank.dpo, meadowbank.school)
    response = _answer(client, meadowbank, "restriction", "parent_user", meadowbank.parent.pk, "restrict")
    assert response.status_code == 302
    meadowbank.parent.refresh_from_db()
    assert not meadowbank.parent.is_active
