"""A real Active Directory (Samba's AD DC) for the session, and per-test corners of it.

A plugin module rather than `conftest.py` (the provisioning tests' conftest holds the SCIM world):
`test_active_directory_connector.py` loads it with `pytest_plugins`. Each test gets its own base OU
(`OU=t<hex>,DC=steward,DC=test`), so what one test creates never shows in another's `existing()`;
sAMAccountName and userPrincipalName are unique in the whole domain, so the `make_ad_account` factory
gives each account a fresh short name too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import ldap3
import pytest

from steward.provisioning.connectors.active_directory import ActiveDirectoryConnector
from steward.provisioning.connectors.base import Account
from tests.provisioning import samba_dc


@pytest.fixture(scope="session")
def domain_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[samba_dc.SambaDC]:
    reason = samba_dc.missing_reason()
    if reason:
        pytest.fail(reason)
    server = samba_dc.start(tmp_path_factory.mktemp("samba"))
    try:
        yield server
    finally:
        samba_dc.stop_process(server.process)


@pytest.fixture(scope="session")
def ad_admin(domain_controller: samba_dc.SambaDC) -> Iterator[ldap3.Connection]:
    connection = samba_dc.admin_connection(domain_controller)
    yield connection
    connection.unbind()


@pytest.fixture
def ad_base(ad_admin: ldap3.Connection) -> str:
    dn = f"OU=t{uuid.uuid4().hex[:10]},{samba_dc.BASE_DN}"
    ad_admin.add(dn, ["top", "organizationalUnit"])
    return dn


ConnectorFactory = Callable[..., ActiveDirectoryConnector]


@pytest.fixture
def make_ad_connector(domain_controller: samba_dc.SambaDC, ad_base: str) -> Iterator[ConnectorFactory]:
    made: list[ActiveDirectoryConnector] = []

    def make(**overrides: Any) -> ActiveDirectoryConnector:
        arguments: dict[str, Any] = {
            "url": domain_controller.ldaps_url,
            "bind_user": samba_dc.ADMIN_USER,
            "password": samba_dc.ADMIN_PASSWORD,
            "base_dn": ad_base,
            "ca_file": domain_controller.ca_file,
            "timeout": 5.0,
        }
        arguments.update(overrides)
        connector = ActiveDirectoryConnector(**arguments)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def ad_connector(make_ad_connector: ConnectorFactory) -> ActiveDirectoryConnector:
    return make_ad_connector()


AccountFactory = Callable[..., Account]


@pytest.fixture
def make_ad_account() -> AccountFactory:
    def make(**overrides: Any) -> Account:
        tag = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "external_id": f"learner:{tag}",
            "user_name": f"p{tag}@steward.test",
            "login": f"p{tag}",
            "given_name": "Jo",
            "family_name": "Bloggs",
            "display_name": "Jo Bloggs",
            "email": f"p{tag}@pupils.steward.test",
            "kind": "learner",
            "container": "OU=Year 7,OU=Pupils",
            "department": "Year 7",
        }
        values.update(overrides)
        return Account(**values)

    return make
