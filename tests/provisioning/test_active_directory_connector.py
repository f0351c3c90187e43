"""The Active Directory connector against a real AD (Samba's AD DC; the server and the fixtures are in
`samba_dc.py` and `active_directory_fixtures.py`).

Everything is read back with the domain administrator's own connection, not through the connector, so
a connector that wrote the wrong thing cannot also read it back as right.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import ldap3
import pytest
import trustme
from ldap3.core.exceptions import LDAPInvalidCredentialsResult

from steward.provisioning.connectors.active_directory import ActiveDirectoryConnector
from steward.provisioning.connectors.base import Account, AccountRefused, Connector, TargetUnavailable
from tests.provisioning import samba_dc
from tests.provisioning.samba_dc import read

pytest_plugins = ["tests.provisioning.active_directory_fixtures"]
AccountFactory = Callable[..., Account]
ConnectorFactory = Callable[..., ActiveDirectoryConnector]

PASSWORD = "Initial-Passw0rd-2026"
NOBODY_LISTENS = "127.255.255.254"  # the test DC's random address never ends in 255.254


def guid_of(ad_admin: ldap3.Connection, dn: str) -> str:
    ad_admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["objectGUID"])
    return str(ad_admin.entries[0].objectGUID.value).strip("{}")


def one(ad_admin: ldap3.Connection, base: str, login: str, *attributes: str) -> dict[str, object]:
    found = read(ad_admin, base, f"(sAMAccountName={login})", *attributes)
    assert len(found) == 1, found
    return found[0]


def users_dn(ad_base: str, container: str = "OU=Year 7,OU=Pupils") -> str:
    return f"{container},OU=Steward,{ad_base}"


def can_bind(server: samba_dc.SambaDC, user: str, password: str) -> bool:
    tls = ldap3.Tls(validate=ssl.CERT_NONE)
    connection = ldap3.Connection(
        ldap3.Server(server.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE),
        user=user,
        password=password,
        raise_exceptions=True,
    )
    try:
        connection.bind()
    except LDAPInvalidCredentialsResult:
        return False
    connection.unbind()
    return True


def test_it_is_a_connector_with_containers_and_forced_password_change(ad_connector: ActiveDirectoryConnector) -> None:
    as_protocol: Connector = ad_connector
    assert as_protocol.capabilities.containers
    assert as_protocol.capabilities.forced_password_change
    assert as_protocol.capabilities.passwords
    ad_connector.check()


def test_create_puts_the_account_in_its_ou_with_every_attribute(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account(title="", department="Year 7")

    created = ad_connector.create(account, password=PASSWORD, must_change_password=False)

    entry = one(
        ad_admin,
        ad_base,
        account.login,
        "userPrincipalName",
        "givenName",
        "sn",
        "displayName",
        "mail",
        "department",
        "title",
        "employeeID",
        "userAccountControl",
    )
    assert entry["dn"] == f"CN={account.login},{users_dn(ad_base)}"
    assert entry["userPrincipalName"] == account.user_name
    assert (entry["givenName"], entry["sn"], entry["displayName"]) == ("Jo", "Bloggs", "Jo Bloggs")
    assert entry["mail"] == account.email
    assert entry["department"] == "Year 7"
    assert entry["title"] == []  # empty values are left out, not written as ""
    assert entry["employeeID"] == account.external_id
    assert entry["userAccountControl"] == 512
    assert created.remote_id == guid_of(ad_admin, str(entry["dn"]))


def test_an_inactive_account_is_created_disabled_in_the_leavers_ou(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account(active=False)
    ad_connector.create(account, password=PASSWORD, must_change_password=False)
    entry = one(ad_admin, ad_base, account.login, "userAccountControl")
    assert entry["dn"] == f"CN={account.login},OU=Leavers,OU=Steward,{ad_base}"
    assert entry["userAccountControl"] == 514


def test_find_by_employee_id_first_then_by_short_or_sign_in_name(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory
) -> None:
    first = make_ad_account()
    second = make_ad_account()
    first_id = ad_connector.create(first, password=PASSWORD, must_change_password=False).remote_id
    second_id = ad_connector.create(second, password=PASSWORD, must_change_password=False).remote_id

    found = ad_connector.find(first)
    assert found is not None
    assert (found.remote_id, found.external_id, found.user_name, found.email, found.active) == (
        first_id,
        first.external_id,
        first.user_name,
        first.email,
        True,
    )
    # employeeID wins over names that belong to another account
    assert ad_connector.find(replace(first, login=second.login, user_name=second.user_name)) == found
    unknown = "staff:nobody"
    by_login = ad_connector.find(replace(second, external_id=unknown, user_name="someone@else.test"))
    by_upn = ad_connector.find(replace(second, external_id=unknown, login="nobody1"))
    assert by_login is not None and by_login.remote_id == second_id
    assert by_upn is not None and by_upn.remote_id == second_id
    assert ad_connector.find(make_ad_account()) is None


def test_update_writes_only_the_changed_attributes(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id
    dn = str(one(ad_admin, ad_base, account.login)["dn"])
    ad_admin.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, ["set.by.the.school@steward.test"])]})

    changed = replace(
        account, family_name="O'Neill", display_name="Jo O'Neill", email="new@steward.test", department=""
    )
    ad_connector.update(remote_id, changed, ["family_name", "display_name", "department"])

    entry = one(ad_admin, ad_base, account.login, "sn", "displayName", "mail", "department")
    assert (entry["sn"], entry["displayName"]) == ("O'Neill", "Jo O'Neill")
    assert entry["mail"] == "set.by.the.school@steward.test"  # not in `changed`: left alone
    assert entry["department"] == []  # an emptied field is removed


def test_a_container_change_moves_the_account_and_keeps_its_guid(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id

    ad_connector.update(remote_id, replace(account, container="OU=Year 8,OU=Pupils"), ["container"])

    entry = one(ad_admin, ad_base, account.login)
    assert entry["dn"] == f"CN={account.login},{users_dn(ad_base, 'OU=Year 8,OU=Pupils')}"
    assert guid_of(ad_admin, str(entry["dn"])) == remote_id
    assert read(ad_admin, users_dn(ad_base, "OU=Year 8,OU=Pupils"), "(objectClass=organizationalUnit)")


def test_disable_and_enable_flip_only_the_disabled_flag_and_move_to_leavers_and_back(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id
    dn = str(one(ad_admin, ad_base, account.login)["dn"])
    dont_expire_password = 0x10000
    ad_admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [512 | dont_expire_password])]})

    ad_connector.update(remote_id, replace(account, active=False), ["active"])
    disabled = one(ad_admin, ad_base, account.login, "userAccountControl")
    assert disabled["userAccountControl"] == 512 | dont_expire_password | 2
    assert disabled["dn"] == f"CN={account.login},OU=Leavers,OU=Steward,{ad_base}"
    assert ad_connector.find(account) == replace(ad_connector.find(account) or pytest.fail("gone"), active=False)

    ad_connector.update(remote_id, account, ["active"])
    enabled = one(ad_admin, ad_base, account.login, "userAccountControl")
    assert enabled["userAccountControl"] == 512 | dont_expire_password
    assert enabled["dn"] == dn


def test_the_initial_password_is_set_and_can_be_made_to_change_at_first_sign_in(
    ad_connector: ActiveDirectoryConnector,
    make_ad_account: AccountFactory,
    ad_admin: ldap3.Connection,
    ad_base: str,
    domain_controller: samba_dc.SambaDC,
) -> None:
    kept = make_ad_account()
    forced = make_ad_account()
    ad_connector.create(kept, password=PASSWORD, must_change_password=False)
    ad_connector.create(forced, password=PASSWORD, must_change_password=True)

    assert can_bind(domain_controller, kept.user_name, PASSWORD)
    assert not can_bind(domain_controller, kept.user_name, PASSWORD + "x")
    ad_admin.search(ad_base, f"(sAMAccountName={kept.login})", attributes=["pwdLastSet"])
    assert ad_admin.response[0]["raw_attributes"]["pwdLastSet"] != [b"0"]
    ad_admin.search(ad_base, f"(sAMAccountName={forced.login})", attributes=["pwdLastSet"])
    assert ad_admin.response[0]["raw_attributes"]["pwdLastSet"] == [b"0"]


def test_delete_removes_the_account_and_a_second_delete_is_fine(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id

    ad_connector.delete(remote_id)
    assert read(ad_admin, ad_base, f"(sAMAccountName={account.login})") == []
    ad_connector.delete(remote_id)
    assert ad_connector.find(account) is None


def test_groups_are_made_once_and_members_added_and_removed(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    first, second = make_ad_account(), make_ad_account()
    first_id = ad_connector.create(first, password=PASSWORD, must_change_password=False).remote_id
    second_id = ad_connector.create(second, password=PASSWORD, must_change_password=False).remote_id

    group_id = ad_connector.ensure_group("Year 7 pupils")
    assert ad_connector.ensure_group("Year 7 pupils") == group_id
    (group,) = read(ad_admin, ad_base, "(objectClass=group)", "groupType", "sAMAccountName", "member")
    assert group["dn"] == f"CN=Year 7 pupils,OU=Groups,OU=Steward,{ad_base}"
    assert group["groupType"] == -2147483646  # global security group
    assert group["sAMAccountName"] == "Year 7 pupils"
    assert guid_of(ad_admin, str(group["dn"])) == group_id

    ad_connector.change_members(group_id, add=[first_id, second_id])
    ad_connector.change_members(group_id, add=[first_id])  # already a member: not an error
    (group,) = read(ad_admin, ad_base, "(objectClass=group)", "member")
    first_dn, second_dn = (str(one(ad_admin, ad_base, a.login)["dn"]) for a in (first, second))
    assert sorted(group["member"]) == sorted([first_dn, second_dn])  # type: ignore[type-var]

    ad_connector.change_members(group_id, remove=[first_id])
    ad_connector.change_members(group_id, remove=[first_id])  # not a member any more: not an error
    (group,) = read(ad_admin, ad_base, "(objectClass=group)", "member")
    assert group["member"] == [second_dn]


def test_change_members_with_nothing_to_change_sends_nothing(make_ad_connector: ConnectorFactory) -> None:
    down = make_ad_connector(url=f"ldaps://{NOBODY_LISTENS}", timeout=1.0)
    down.change_members("3fe83360-da14-4142-b6c6-43ebc3506b05", add=[], remove=[])
    with pytest.raises(TargetUnavailable):  # the same call with a member does go to the (absent) server
        down.change_members("3fe83360-da14-4142-b6c6-43ebc3506b05", add=["3fe83360-da14-4142-b6c6-43ebc3506b06"])


def test_existing_lists_every_account_over_several_pages(
    make_ad_connector: ConnectorFactory, make_ad_account: AccountFactory
) -> None:
    ad_connector = make_ad_connector(page_size=5)
    made: set[str] = set()
    for number in range(12):
        account = make_ad_account(active=number % 3 != 0)
        made.add(ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id)

    listed = list(ad_connector.existing())

    assert {remote.remote_id for remote in listed} == made
    assert len(listed) == 12
    assert sum(1 for remote in listed if not remote.active) == 4


def test_a_wrong_admin_password_makes_the_target_unavailable(make_ad_connector: ConnectorFactory) -> None:
    with pytest.raises(TargetUnavailable, match="refused Steward's sign-in"):
        make_ad_connector(password="not-the-password").check()


def test_a_server_that_is_down_makes_the_target_unavailable(make_ad_connector: ConnectorFactory) -> None:
    with pytest.raises(TargetUnavailable, match="cannot be reached"):
        make_ad_connector(url=f"ldaps://{NOBODY_LISTENS}", timeout=2.0).check()


def test_a_certificate_from_an_unknown_ca_makes_the_target_unavailable(
    make_ad_connector: ConnectorFactory, tmp_path: Path
) -> None:
    other_ca = trustme.CA()
    path = str(tmp_path / "other-ca.pem")
    other_ca.cert_pem.write_to_path(path)
    with pytest.raises(TargetUnavailable, match="certificate"):
        make_ad_connector(ca_file=path).check()


def test_plain_ldap_without_starttls_refuses_to_send_a_password(
    make_ad_connector: ConnectorFactory,
    make_ad_account: AccountFactory,
    domain_controller: samba_dc.SambaDC,
    ad_admin: ldap3.Connection,
    ad_base: str,
) -> None:
    plain = make_ad_connector(url=domain_controller.ldap_url)
    account = make_ad_account()
    assert not plain.capabilities.passwords
    with pytest.raises(TargetUnavailable, match="without encryption"):
        plain.create(account, password=PASSWORD, must_change_password=True)
    assert read(ad_admin, ad_base, f"(sAMAccountName={account.login})") == []
    # Samba, like a hardened Windows AD, does not take a simple bind without TLS at all
    with pytest.raises(TargetUnavailable, match="only accepts encrypted connections"):
        plain.check()


def test_starttls_carries_the_initial_password(
    make_ad_connector: ConnectorFactory, make_ad_account: AccountFactory, domain_controller: samba_dc.SambaDC
) -> None:
    over_starttls = make_ad_connector(url=domain_controller.ldap_url, start_tls=True)
    account = make_ad_account()
    assert over_starttls.capabilities.passwords
    over_starttls.create(account, password=PASSWORD, must_change_password=False)
    assert can_bind(domain_controller, account.user_name, PASSWORD)


def test_a_taken_short_name_refuses_that_account(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    first = make_ad_account()
    ad_connector.create(first, password=PASSWORD, must_change_password=False)
    second = make_ad_account(login=first.login, container="OU=Year 8,OU=Pupils")
    with pytest.raises(AccountRefused, match=f"Account '{first.login}' \\({second.external_id}\\).*already"):
        ad_connector.create(second, password=PASSWORD, must_change_password=False)
    assert len(read(ad_admin, ad_base, f"(sAMAccountName={first.login})")) == 1


def test_a_weak_password_refuses_that_account_and_creates_nothing(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    with pytest.raises(AccountRefused, match="password policy") as refused:
        ad_connector.create(account, password="abc", must_change_password=True)
    assert account.login in str(refused.value)
    assert read(ad_admin, ad_base, f"(sAMAccountName={account.login})") == []


def test_a_short_name_over_20_characters_is_refused_before_anything_is_sent(
    make_ad_connector: ConnectorFactory, make_ad_account: AccountFactory
) -> None:
    down = make_ad_connector(url=f"ldaps://{NOBODY_LISTENS}", timeout=1.0)
    with pytest.raises(AccountRefused, match="21 characters"):
        down.create(make_ad_account(login="a" * 21), password=PASSWORD, must_change_password=False)


def test_apostrophes_hyphens_diacritics_and_dn_specials_in_names(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account(
        login="zoë.o'brien-ñ",
        user_name="zoë.o'brien-ñ@steward.test",
        given_name="Zoë",
        family_name="O'Brien-Ñúñez",
        display_name="Zoë O'Brien-Ñúñez",
        container="OU=Class 7\\, St Mary's \\+ Ñ,OU=Pupils",
    )
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id

    entry = one(ad_admin, ad_base, account.login, "givenName", "sn", "displayName")
    assert (entry["givenName"], entry["sn"], entry["displayName"]) == ("Zoë", "O'Brien-Ñúñez", "Zoë O'Brien-Ñúñez")
    (ou,) = read(ad_admin, ad_base, "(&(objectClass=organizationalUnit)(ou=Class 7, St Mary's + Ñ))", "ou")
    assert ou["ou"] == ["Class 7, St Mary's + Ñ"]
    found = ad_connector.find(replace(account, external_id="staff:other"))
    assert found is not None and found.remote_id == remote_id

    ad_connector.update(remote_id, replace(account, container="OU=Year 8 (O'Hara's),OU=Pupils"), ["container"])
    assert str(one(ad_admin, ad_base, account.login)["dn"]).startswith("CN=zoë.o'brien-ñ,OU=Year 8 (O'Hara's),")

    group_id = ad_connector.ensure_group('St Mary\'s, Year 7 + "Ñ"', container="OU=Form # 1")
    ad_connector.change_members(group_id, add=[remote_id])
    (group,) = read(ad_admin, ad_base, "(objectClass=group)", "cn", "member", "sAMAccountName")
    assert group["cn"] == 'St Mary\'s, Year 7 + "Ñ"'
    assert group["sAMAccountName"] == "St Mary's Year 7  Ñ"
    assert group["member"] == [one(ad_admin, ad_base, account.login)["dn"]]
    assert ad_connector.ensure_group('St Mary\'s, Year 7 + "Ñ"', container="OU=Form # 1") == group_id

    # a name that reads as a DN if it is not escaped: the group must still be one CN in the groups OU
    tricky_id = ad_connector.ensure_group("Maths, OU=Set 1")
    tricky = read(ad_admin, ad_base, "(&(objectClass=group)(cn=Maths, OU=Set 1))", "cn")
    assert [entry["cn"] for entry in tricky] == ["Maths, OU=Set 1"]
    assert str(tricky[0]["dn"]).startswith("CN=Maths\\, OU\\")  # Samba writes the "=" as \3D
    assert str(tricky[0]["dn"]).endswith(f"Set 1,OU=Groups,OU=Steward,{ad_base}")
    assert guid_of(ad_admin, str(tricky[0]["dn"])) == tricky_id


def test_updating_an_account_that_was_deleted_refuses_it(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id
    ad_connector.delete(remote_id)
    with pytest.raises(AccountRefused, match="no longer in Active Directory"):
        ad_connector.update(remote_id, replace(account, family_name="Smith"), ["family_name"])


def test_a_server_that_goes_away_mid_run_makes_the_target_unavailable(
    tmp_path: Path, make_ad_account: AccountFactory
) -> None:
    own = samba_dc.start(tmp_path)  # a second DC of this test's own, so stopping it spares the others
    ad_connector = ActiveDirectoryConnector(
        own.ldaps_url, samba_dc.ADMIN_USER, samba_dc.ADMIN_PASSWORD, samba_dc.BASE_DN, ca_file=own.ca_file, timeout=3
    )
    try:
        ad_connector.check()  # connected and bound
        samba_dc.stop_process(own.process)
        with pytest.raises(TargetUnavailable, match="lost|cannot be reached"):
            ad_connector.find(make_ad_account())
    finally:
        ad_connector.close()
        samba_dc.stop_process(own.process)


def test_a_new_short_name_renames_the_account_in_place(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account()
    remote_id = ad_connector.create(account, password=PASSWORD, must_change_password=False).remote_id
    renamed = replace(account, login=f"{account.login}r", user_name=f"r.{account.user_name}")

    ad_connector.update(remote_id, renamed, ["login", "user_name"])

    assert read(ad_admin, ad_base, f"(sAMAccountName={account.login})") == []
    entry = one(ad_admin, ad_base, renamed.login, "userPrincipalName")
    assert entry["dn"] == f"CN={renamed.login},{users_dn(ad_base)}"
    assert entry["userPrincipalName"] == renamed.user_name
    assert guid_of(ad_admin, str(entry["dn"])) == remote_id


def test_changes_that_ad_does_not_hold_send_nothing(
    make_ad_connector: ConnectorFactory, make_ad_account: AccountFactory
) -> None:
    down = make_ad_connector(url=f"ldaps://{NOBODY_LISTENS}", timeout=1.0)
    account = make_ad_account(groups=("Year 7",))
    down.update("3fe83360-da14-4142-b6c6-43ebc3506b05", account, ["groups", "kind"])
    with pytest.raises(TargetUnavailable):  # a field AD does hold does go to the (absent) server
        down.update("3fe83360-da14-4142-b6c6-43ebc3506b05", account, ["groups", "email"])
    with pytest.raises(ValueError, match="not fields of Account"):
        down.update("3fe83360-da14-4142-b6c6-43ebc3506b05", account, ["colour"])


def test_a_container_that_is_not_an_ou_path_refuses_the_account_and_creates_nothing(
    ad_connector: ActiveDirectoryConnector, make_ad_account: AccountFactory, ad_admin: ldap3.Connection, ad_base: str
) -> None:
    account = make_ad_account(container="CN=Users")
    with pytest.raises(AccountRefused, match="is not an OU path"):
        ad_connector.create(account, password=PASSWORD, must_change_password=False)
    assert read(ad_admin, ad_base, f"(sAMAccountName={account.login})") == []


def test_check_reports_a_base_that_does_not_exist(make_ad_connector: ConnectorFactory) -> None:
    with pytest.raises(TargetUnavailable, match="does not exist"):
        make_ad_connector(base_dn=f"OU=Nowhere,{samba_dc.BASE_DN}").check()
