"""Inviting parents from the back office: every choice is kept on an error, and nothing is sent before
the admin has seen "You are about to invite N parents of …" with the list and confirmed it.

The reported incident: an error on "A year group" with no year chosen came back set to "Everyone not
yet invited"; the admin then chose Year 3 and sent invitations to the whole school."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from steward.portal.models import PortalInvitation
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.portal import families as f

pytestmark = [pytest.mark.django_db, pytest.mark.dates]  # families are on roll relative to today


class _FormState(HTMLParser):
    """What a browser would submit for the invitation form as the page came back: checked radios and
    checkboxes, selected options (the first option when none is marked, as a browser does)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._first: str | None = None
        self._chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name") or ""
        if tag == "input" and a.get("type") in ("radio", "checkbox") and "checked" in a:
            self.values.setdefault(name, []).append(a.get("value") or "on")
        elif tag == "select":
            self._select, self._first, self._chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            self._first = value if self._first is None else self._first
            if "selected" in a:
                self.values.setdefault(self._select, []).append(value)
                self._chosen = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            if not self._chosen and self._first is not None:
                self.values.setdefault(self._select, []).append(self._first)
            self._select = None


def _as_submitted(html: str) -> dict[str, list[str]]:
    state = _FormState()
    state.feed(html)
    return state.values


@pytest.fixture
def school() -> Organisation:
    return f.family_school("Alder Primary")


@pytest.fixture
def client(school: Organisation) -> Client:
    browser = Client()
    sign_in(browser, factories.user(Role.SCHOOL_ADMIN, school))
    choose(browser, school)
    return browser


def test_an_error_on_a_year_group_keeps_the_year_group_choice(client: Client, school: Organisation) -> None:
    mail.outbox.clear()
    response = client.post("/school/portal/", {"action": "invite", "scope": "year", "year_group": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert _as_submitted(page).get("scope") == ["year"], "the form came back set to another choice"
    assert "<title>Error: " in page
    assert mail.outbox == []
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()


def test_choosing_the_year_after_the_error_invites_that_year_only_after_confirming(
    client: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    page = client.post("/school/portal/", {"action": "invite", "scope": "year", "year_group": ""}).content.decode()
    # The admin now picks Year 4 on the page as it came back, and submits it.
    values = {k: v[0] for k, v in _as_submitted(page).items() if k in ("scope", "group")}
    values |= {"action": "invite", "year_group": "4"}
    with django_capture_on_commit_callbacks(execute=True):
        confirm = client.post("/school/portal/", values)
    assert confirm.status_code == 200
    assert mail.outbox == []  # nothing is sent before the confirmation
    text = confirm.content.decode()
    assert "You are about to invite 1 parent of Year 4" in text
    assert "Alex Jones" in text and "Raj Shah" not in text  # Raj's child is in Year 5
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/school/portal/", {**values, "action": "send", "confirmed": ["C1"]}, follow=True)
    assert [m.to for m in mail.outbox] == [["alex@example.invalid"]]
    assert "1 invitation sent" in sent.content.decode()


def test_confirming_sends_only_to_the_listed_people_still_within_the_choice(
    client: Client, school: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # C2 (Raj) is not a parent of Year 4: naming him in the confirmation does not reach him.
        page = client.post(
            "/school/portal/",
            {"action": "send", "scope": "year", "year_group": "4", "confirmed": ["C2"]},
            follow=True,
        )
    assert "Nobody was invited" in page.content.decode()
    assert mail.outbox == []
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()


def test_chosen_contacts_are_kept_on_an_error_and_an_unknown_one_is_named(client: Client, school: Organisation) -> None:
    page = client.get("/school/portal/").content.decode()
    assert _as_submitted(page).get("scope") is None  # no choice is made for the admin
    assert "Alex Jones (alex@example.invalid)" in page and "Kim Lee" not in page  # Kim has no responsibility
    response = client.post("/school/portal/", {"action": "invite", "scope": "contacts", "contacts": ["C1", "C9"]})
    assert response.status_code == 400
    text = response.content.decode()
    assert "C9 is not a parent or carer who can be invited" in text
    assert _as_submitted(text) == {"scope": ["contacts"], "contacts": ["C1"], "year_group": [""], "group": [""]}
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()


def test_changing_the_choice_from_the_confirmation_page_keeps_it(client: Client, school: Organisation) -> None:
    confirm = client.post("/school/portal/", {"action": "invite", "scope": "contacts", "contacts": ["C1", "C2"]})
    assert "You are about to invite 2 parents you chose" in confirm.content.decode()
    back = client.post("/school/portal/", {"action": "change", "scope": "contacts", "contacts": ["C1", "C2"]})
    assert back.status_code == 200
    assert _as_submitted(back.content.decode())["contacts"] == ["C1", "C2"]
    with tenant_scope([school.id]):
        assert not PortalInvitation.objects.exists()
