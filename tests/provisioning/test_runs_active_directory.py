"""A provisioning run into a real Active Directory (Samba's AD DC): the same plan as for SCIM, written
as users in OUs with sAMAccountName, userPrincipalName, groups, passwords and userAccountControl."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ldap3
import pytest

from steward.audit.actor import Actor
from steward.provisioning import services
from steward.provisioning.models import InitialPassword, ProvisioningRun
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.provisioning import samba_dc
from tests.provisioning.conftest import SCHOOL, approved_rostering_flow, make_target, send

pytest_plugins = ["tests.provisioning.active_directory_fixtures"]
pytestmark = [pytest.mark.time_machine(dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC))]
ADMIN = Actor.system("Ann Admin")
DISABLED = 0x2


def entries(connection: ldap3.Connection, base: str) -> dict[str, dict[str, Any]]:
    connection.search(
        base,
        "(objectClass=user)",
        attributes=[
            "sAMAccountName",
            "userPrincipalName",
            "userAccountControl",
            "employeeID",
            "memberOf",
            "pwdLastSet",
        ],
    )
    return {str(e.sAMAccountName): {"dn": e.entry_dn, **e.entry_attributes_as_dict} for e in connection.entries}


def sync(target: Any) -> ProvisioningRun:
    run = services.plan_make(target=target, trigger="manual", actor=ADMIN)
    return services.run_apply(run=run, actor=ADMIN)


def test_a_school_provisions_into_active_directory(
    school: Organisation, domain_controller: samba_dc.SambaDC, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    target = make_target(
        school,
        endpoint=domain_controller.ldaps_url,
        token=samba_dc.ADMIN_PASSWORD,
        flow=approved_rostering_flow(school, recipient="network-directory"),
        name="network",
        kind="ad",
        bind_user=samba_dc.ADMIN_USER,
        base_dn=ad_base,
        ca_file=domain_controller.ca_file,
        domain="oak.steward.test",
    )
    run = sync(target)
    assert run.status == ProvisioningRun.Status.SUCCEEDED, run.error
    made = entries(ad_admin, ad_base)
    assert sorted(made) == [
        "25smith-jonesb",
        "25smith-jonesb2",
        "26darcyz",
        "26khana",
        "jo.bloggs",
        "siobhan.oconnor-ni-b",
    ]
    amy = made["26khana"]
    assert amy["dn"].lower() == f"cn=26khana,ou=year 7,ou=pupils,ou=steward,{ad_base}".lower()
    assert amy["userPrincipalName"] == ["26khana@oak.steward.test"]
    # employeeID holds 16 characters: a longer external id is written as its fingerprint.
    assert amy["employeeID"][0].startswith("l") and len(amy["employeeID"][0]) == 16
    assert int(amy["userAccountControl"][0]) & DISABLED == 0
    assert any(g.lower().startswith("cn=7a,") for g in amy["memberOf"])
    # Everyone got a first password (AD accounts need one), to change at first sign-in.
    assert str(amy["pwdLastSet"][0]).startswith("1601")
    with tenant_scope([school.id]):
        assert sorted(InitialPassword.objects.values_list("group", flat=True)) == [
            "7A",
            "7B",
            "8A",
            "8A",
            "Staff",
            "Staff",
        ]
    letter = services.letters_take(school_id=school.id, group="7A", actor=ADMIN)[0]
    assert letter["login"] == "26khana" and len(letter["password"]) >= 12

    # Amy leaves: disabled, moved to the leavers' OU, out of her groups.
    leaving = [
        {**e, "leaving_date": "2026-08-31"} for e in SCHOOL["school-enrolments"] if e["learner_source_id"] == "L1"
    ]
    send(school, {"school-enrolments": leaving})
    amy = entries(ad_admin, ad_base)["26khana"]
    assert int(amy["userAccountControl"][0]) & DISABLED
    assert "ou=leavers,ou=steward" in amy["dn"].lower()
    assert not amy.get("memberOf")
