"""The back office's Accounts pages as a school admin and a DPO meet them (Django's test client over
the real middleware, a real SCIM server behind): set up with an error on the way, plan, confirm,
apply, a held plan refused without its tick, the letters printed once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from steward.provisioning.models import InitialPassword, PlannedChange, ProvisioningRun, ProvisioningTarget
from steward.tenancy.models import Organisation, Role
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.provisioning.conftest import SCHOOL, TOKEN, approved_rostering_flow, make_target, send, users

pytestmark = [pytest.mark.time_machine("2026-09-01 12:00 +00:00")]


def signed_in(client: Client, school: Organisation, role: str) -> Client:
    sign_in(client, factories.user(role, school))
    choose(client, school)
    return client


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_school_admin_sets_up_a_directory_plans_and_applies(
    client: Client, school: Organisation, directory: Any
) -> None:
    server, _ = directory
    flow = approved_rostering_flow(school)
    signed_in(client, school, Role.SCHOOL_ADMIN)
    assert "No directory is set up yet" in text(client.get("/school/accounts/"))
    form = {
        "name": "entra",
        "flow": flow.pk,
        "kind": "scim",
        "endpoint": server.url,
        "credential": TOKEN,
        "people": "both",
        "domain": "school.example",
        "staff_naming": "{firstname}.{surname}@{domain}",
        "learner_naming": "{admission_yy}{surname}{initial}{n}@{domain}",
        "staff_container": "OU=Staff",
        "learner_container": "OU=Year {year},OU=Pupils",
        "leavers_container": "OU=Leavers",
        "staff_groups": "All staff",
        "learner_groups": "Year {year}\n{registration}",
        "initial_passwords": "on",
        "brake_percent": "5",
    }
    refused = client.post("/school/accounts/new/", form)
    assert refused.status_code == 400
    assert "unknown placeholder {firstname}" in text(refused) and "<title>Error:" in text(refused)
    with tenant_scope([school.id]):
        assert not ProvisioningTarget.objects.exists()
    saved = client.post("/school/accounts/new/", {**form, "staff_naming": "{forename}.{surname}{n}@{domain}"})
    assert saved.status_code == 302
    page = client.get(saved["Location"])
    assert "The directory entra is saved" in text(page)
    planned = client.post(saved["Location"] + "plan/")
    page = text(client.get(planned["Location"]))
    assert "Plan made: 6 changes. Nothing is sent until you apply it." in page
    assert "On roll in Year 7." in page and "siobhan.oconnor-ni-bhriain@school.example" in page
    with tenant_scope([school.id]):
        run = ProvisioningRun.objects.get()
    confirm = text(client.get(f"{saved['Location']}plans/{run.pk}/apply/"))
    assert "Apply the plan for entra?" in confirm and ": Create 6." in confirm
    assert users(server) == {}  # nothing sent before the admin says so
    applied = client.post(f"{saved['Location']}plans/{run.pk}/apply/")
    page = text(client.get(applied["Location"]))
    assert "The plan is being applied" in page and "Applied" in page
    assert len(users(server)) == 6
    assert "Print 1 letter for 7A" in page and "Print 2 letters for 8A" in page


def test_a_held_plan_needs_the_tick_and_the_letters_print_once(
    client: Client, school: Organisation, directory: Any
) -> None:
    server, _ = directory
    target = make_target(school, endpoint=server.url, token=TOKEN, brake_percent=5)
    signed_in(client, school, Role.SCHOOL_ADMIN)
    client.post(f"/school/accounts/{target.pk}/plan/")
    with tenant_scope([school.id]):
        first = ProvisioningRun.objects.get()
    client.post(f"/school/accounts/{target.pk}/plans/{first.pk}/apply/")
    leaving = [{**e, "leaving_date": "2026-08-31"} for e in SCHOOL["school-enrolments"]]
    send(school, {"school-enrolments": leaving})  # runs by itself, and is held
    with tenant_scope([school.id]):
        held = ProvisioningRun.objects.latest("id")
    assert held.status == "held"
    page = text(client.get(f"/school/accounts/{target.pk}/"))
    assert "more than the 5 % the school set" in page and "Check and confirm this plan" in page
    unticked = client.post(f"/school/accounts/{target.pk}/plans/{held.pk}/apply/")
    assert unticked.status_code == 400 and "Tick the box to confirm" in text(unticked)
    assert all(u["active"] for u in users(server).values())
    ticked = client.post(f"/school/accounts/{target.pk}/plans/{held.pk}/apply/", {"confirm": "yes"})
    assert ticked.status_code == 302
    assert sum(1 for u in users(server).values() if not u["active"]) == 4
    letters = client.get(f"/school/accounts/{target.pk}/letters/?group=7A")
    assert "shown once" in text(letters)
    pdf = client.post(f"/school/accounts/{target.pk}/letters/", {"group": "7A"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf["Cache-Control"] == "no-store"
    again = client.post(f"/school/accounts/{target.pk}/letters/", {"group": "7A"})
    assert "no letters waiting for that group" in text(client.get(again["Location"]))
    with tenant_scope([school.id]):
        assert not InitialPassword.objects.filter(group="7A").exists()


def test_a_dpo_reads_the_plan_but_cannot_act(client: Client, school: Organisation, directory: Any) -> None:
    server, _ = directory
    target = make_target(school, endpoint=server.url, token=TOKEN)
    signed_in(client, school, Role.SCHOOL_DPO)
    page = text(client.get(f"/school/accounts/{target.pk}/"))
    assert "entra: accounts for Microsoft 365" in page and "Make a new plan" not in page
    assert client.post(f"/school/accounts/{target.pk}/plan/").status_code == 403
    with tenant_scope([school.id]):
        assert not PlannedChange.objects.exists()
