"""The DPO's alert pages and the breach record, through the Django test client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from steward.monitoring.models import AlertStatus, Breach
from steward.tenancy.models import Organisation, Role, User
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.monitoring.conftest import WEDNESDAY, alerts, emit, run_pass

pytestmark = pytest.mark.django_db


@pytest.fixture
def bulk_alert(alder: Organisation, teacher: User) -> int:
    for hour in range(4):
        emit(
            WEDNESDAY + dt.timedelta(hours=hour),
            "view",
            actor_user_id=teacher.pk,
            school_id=alder.id,
            object_type="mis.SpecialNeeds",
            object_ids=[f"L{n}" for n in range(hour * 30, hour * 30 + 30)],
        )
    run_pass()
    [alert] = alerts("bulk_reads_day")
    return alert.pk


def _dpo(client: Client, school: Organisation) -> User:
    user = factories.user(Role.SCHOOL_DPO, school)
    sign_in(client, user)
    choose(client, school)
    return user


def test_a_dpo_resolves_an_alert_as_an_incident_and_starts_a_breach_record(
    client: Client, alder: Organisation, bulk_alert: int
) -> None:
    _dpo(client, alder)
    listing = client.get("/school/alerts/")
    assert listing.status_code == 200 and "Far more records read in a day than usual" in listing.content.decode()
    page = client.get(f"/school/alerts/{bulk_alert}/")
    assert page.status_code == 200 and "Special educational needs" in page.content.decode()  # the evidence
    refused = client.post(f"/school/alerts/{bulk_alert}/", {"action": "resolve_incident", "note": ""})
    assert (
        refused.status_code == 400 and "Enter a note saying why you are resolving the alert" in refused.content.decode()
    )
    confirm = client.post(f"/school/alerts/{bulk_alert}/", {"action": "resolve_incident", "note": "Copied SEN list"})
    assert "Are you sure you want to resolve this alert?" in confirm.content.decode()
    assert alerts("bulk_reads_day")[0].status == AlertStatus.OPEN  # not before the confirmation
    done = client.post(
        f"/school/alerts/{bulk_alert}/", {"action": "resolve_incident", "note": "Copied SEN list", "confirm": "yes"}
    )
    assert done.status_code == 302 and alerts("bulk_reads_day")[0].status == AlertStatus.RESOLVED_INCIDENT
    aware = dt.datetime.now().strftime("%Y-%m-%d %H:%M")  # noqa: DTZ005 - the form reads local time
    started = client.post(
        f"/school/alerts/{bulk_alert}/breach/",
        {"what_happened": "SEN list copied", "aware_at": aware, "ico_decision": "undecided", "ico_reason": ""},
    )
    assert started.status_code == 302
    with tenant_scope([alder.id]):
        breach = Breach.objects.get()
    assert breach.people_estimate == 120
    assert [c["code"] for c in breach.categories] == sorted(c["code"] for c in breach.categories)
    assert any(c["people"] == 120 and "special" in c["code"] for c in breach.categories)
    shown = client.get(f"/school/alerts/{bulk_alert}/breach/").content.decode()
    assert "hours" in shown and "left" in shown and "to tell the ICO" in shown


def test_a_decision_about_the_ico_needs_its_reason(client: Client, alder: Organisation, bulk_alert: int) -> None:
    _dpo(client, alder)
    client.post(f"/school/alerts/{bulk_alert}/", {"action": "resolve_incident", "note": "n", "confirm": "yes"})
    aware = dt.datetime.now().strftime("%Y-%m-%d %H:%M")  # noqa: DTZ005
    response = client.post(
        f"/school/alerts/{bulk_alert}/breach/",
        {"what_happened": "x", "aware_at": aware, "ico_decision": "yes", "ico_reason": ""},
    )
    assert response.status_code == 400 and "Enter the reason for the decision" in response.content.decode()
    with tenant_scope([alder.id]):
        assert not Breach.objects.exists()  # the refused start left nothing behind


def test_another_schools_dpo_cannot_open_the_alert(
    client: Client, alder: Organisation, birch: Organisation, bulk_alert: int
) -> None:
    _dpo(client, birch)
    assert client.get(f"/school/alerts/{bulk_alert}/").status_code == 404
    assert client.post(f"/school/alerts/{bulk_alert}/", {"action": "acknowledge"}).status_code == 404
    assert alerts("bulk_reads_day")[0].status == AlertStatus.OPEN


def test_processor_admins_see_all_alerts(client: Client, bulk_alert: int) -> None:
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    page = client.get("/processor/alerts/")
    assert page.status_code == 200 and "Alder Primary" in page.content.decode()
    assert client.get(f"/processor/alerts/{bulk_alert}/").status_code == 200


def test_a_schools_alert_is_the_schools_to_decide_not_the_processors(client: Client, bulk_alert: int) -> None:
    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    page = client.get(f"/processor/alerts/{bulk_alert}/").content.decode()
    assert "Alder Primary's to decide" in page
    assert 'name="action"' not in page
    refused = client.post(
        f"/processor/alerts/{bulk_alert}/", {"action": "resolve_expected", "note": "fine", "confirm": "yes"}
    )
    assert refused.status_code == 400
    assert "its administrators and DPO acknowledge and resolve it" in refused.content.decode()
    assert alerts("bulk_reads_day")[0].status == AlertStatus.OPEN
