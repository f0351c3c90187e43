"""The GOV.UK patterns every back-office and portal page keeps (issue #12): a styled "You do not have
access" page instead of a bare 403, a one-school user never asked to choose a school, the current page
marked in the menu, and "Error:" first in the title of a page that shows an error."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from steward.audit.actor import Actor
from steward.consents.models import Consent
from steward.consents.services import consent_give
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in

pytestmark = pytest.mark.django_db


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found, html[:300]
    return " ".join(found.group(1).split())


def test_a_page_a_role_may_not_open_is_a_styled_explanation(client: Client, school_a: Organisation) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school_a)
    sign_in(client, dpo)
    client.get("/", follow=True)  # one school: chosen without asking
    response = client.get("/school/portal/")  # the portal's settings are the school admin's
    html = response.content.decode()
    assert response.status_code == 403
    assert _title(html).startswith("You do not have access")
    assert "govuk-heading-l" in html and "You do not hold a role in this school that may open this page." in html
    assert 'class="govuk-header' in html  # the service's own layout, not Django's bare page


def test_the_portal_refusal_keeps_the_portal_layout() -> None:
    """A form sent without its CSRF token (an old tab, another site) is refused in the portal's own
    layout with what to do next."""
    client = Client(enforce_csrf_checks=True)
    response = client.post("/portal/sign-in/", {"email": "someone@example.invalid", "password": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert _title(html) == "You do not have access – Parent portal"
    assert "reload the page and try again" in html


def test_a_one_school_user_is_not_asked_to_choose(client: Client, admin_a: User) -> None:
    sign_in(client, admin_a)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/school/"
    assert response.status_code == 200


def test_the_menu_marks_the_current_page_and_hides_what_the_role_cannot_open(
    client: Client, school_a: Organisation
) -> None:
    dpo = factories.user(Role.SCHOOL_DPO, school_a)
    sign_in(client, dpo)
    choose(client, school_a)
    html = client.get("/school/rights/").content.decode()
    current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', html)
    assert current == ["Rights requests"]
    assert 'href="/school/portal/"' not in html  # the DPO cannot open the portal settings


def test_a_form_with_an_error_says_so_in_the_title(client: Client, school_a: Organisation) -> None:
    processor_admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, processor_admin)
    response = client.post("/processor/flow-requests/new/", {"purpose": "Attendance returns"})
    assert response.status_code in (200, 400)
    assert _title(response.content.decode()).startswith("Error: ")
    assert _title(client.get("/processor/flow-requests/new/").content.decode()).startswith("Record")


def test_an_action_ends_with_a_success_banner(client: Client, school_a: Organisation, admin_a: User) -> None:
    with tenant_scope([school_a.id]):
        consent = consent_give(
            school=school_a,
            given_by=admin_a,
            kind=Consent.Kind.STANDING,
            recipient=Consent.Recipient.PROCESSOR,
            record_types=["learners"],
            actor=Actor.of_user(admin_a),
        )
    sign_in(client, admin_a)
    client.get("/", follow=True)
    response = client.post(f"/school/consents/{consent.pk}/withdraw/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/school/consents/"
    assert "govuk-notification-banner--success" in html and "The consent is withdrawn." in html
    # Shown once: the next page has no banner.
    assert "govuk-notification-banner--success" not in client.get("/school/consents/").content.decode()
    assert '<td class="govuk-table__cell">Pupils</td>' in html  # record types in words, not `learners`


def test_dates_are_day_month_year_boxes_that_keep_what_was_typed(school_a: Organisation) -> None:
    from steward.backoffice.views.consents import AgreementForm

    typed = {"dua-starts_on_day": "31", "dua-starts_on_month": "2", "dua-starts_on_year": "2027"}
    typed |= {"dua-expires_on_day": "1", "dua-expires_on_month": "3", "dua-expires_on_year": "2027"}
    form = AgreementForm(data=typed, school_id=school_a.id)
    assert not form.is_valid()
    assert "starts_on" in form.errors and "expires_on" not in form.errors  # 31 February is no date
    assert form.cleaned_data["expires_on"].isoformat() == "2027-03-01"
    html = str(form["starts_on"])
    for part, value in (("day", "31"), ("month", "02"), ("year", "2027")):
        assert f'name="dua-starts_on_{part}"' in html and f'value="{value}"' in html
    assert 'name="dua-starts_on"' not in html  # no single YYYY-MM-DD box


def test_the_menu_marks_a_page_under_its_entry_and_shows_a_role_only_what_it_may_open() -> None:
    from steward.backoffice.menu import menu_links

    admin = menu_links("school-rights-history", school_roles={"school_admin"}, processor_roles=())
    assert [link["label"] for link in admin if link["current"]] == ["Rights requests"]
    assert "Parent portal" in [link["label"] for link in admin]
    dpo = menu_links("school-rights", school_roles={"school_dpo"}, processor_roles=())
    assert "Parent portal" not in [link["label"] for link in dpo]
    ticket = menu_links("school-service-desk-ticket", school_roles={"school_dpo"}, processor_roles=())
    assert [link["label"] for link in ticket if link["current"]] == ["Service desk"]
    support = menu_links("processor-schools", school_roles=(), processor_roles={"processor_support"})
    assert [link["label"] for link in support] == [
        "Schools with problems",
        "Schools",
        "Service desk",
        "Contracts",
        "Processing register",
        "Record a flow request",
    ]
    assert not menu_links("school-home", school_roles=(), processor_roles=())  # a parent, or no school chosen
