"""Every portal page that names a child names them the same way (`steward.mis.names`)."""

from __future__ import annotations

import pytest
from django.test import Client

from steward.mis.models import Learner
from steward.tenancy.scope import tenant_scope
from tests.ingest import builders as b
from tests.portal import families as f

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # the family is relative to today


def test_home_child_page_and_rights_request_show_the_learners_preferred_forename_and_surname() -> None:
    school = f.family_school("Alder Primary")
    # Samuel Jones is known as Sam Okafor: both preferred names, not the legal surname.
    f.send(
        school,
        {"learners": [b.learner("L1", legal_forename="Samuel", preferred_forename="Sam", preferred_surname="Okafor")]},
    )
    f.registered_parent(school, "C1")
    client = Client()
    f.portal_sign_in(client, "alex@example.invalid")
    learner_id = f.learner_id(school, "L1")
    with tenant_scope([school.id]):
        assert Learner.objects.get(pk=learner_id).display_name == "Sam Okafor"

    home = client.get("/portal/").content.decode()
    child = client.get(f"/portal/children/{learner_id}/").content.decode()
    request_page = client.get("/portal/account/requests/new/").content.decode()
    for page in (home, child, request_page):
        assert "Sam Okafor" in page
    assert "Sam Jones" not in request_page  # the legal surname with the preferred forename: a name nobody uses
    assert "Samuel Jones" in child  # the child's page also shows the legal name, as such
