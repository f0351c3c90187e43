"""A real Active Directory (Samba's AD DC) for the session, and per-test corners of it.

Each test gets its own base OU (`OU=t<hex>,DC=steward,DC=test`), so what one test creates never shows
in another's `existing()`; sAMAccountName and userPrincipalName are unique in the whole domain, so the
`account` factory gives each account a fresh short name too.
"""

from __future__ import annotations

import ssl
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


def admin_connection(server: samba_dc.SambaDC) -> ldap3.Connection:
    """The domain administrator's own connection, to set up and to read back independently of the connector.
    It reads the schema, so values come back typed (userAccountControl an int, single values unlisted)."""
    # Reading back only; ldap3's own host name check warns on Python 3.11, and the connector's tests verify TLS.
    tls = ldap3.Tls(validate=ssl.CERT_NONE)
    return ldap3.Connection(
        ldap3.Server(server.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.SCHEMA),
        user=samba_dc.ADMIN_USER,
        password=samba_dc.ADMIN_PASSWORD,
        auto_bind=True,
        raise_exceptions=True,
    )


@pytest.fixture(scope="session")
def admin(domain_controller: samba_dc.SambaDC) -> Iterator[ldap3.Connection]:
    connection = admin_connection(domain_controller)
    yield connection
    connection.unbind()


@pytest.fixture
def base_dn(admin: ldap3.Connection) -> str:
    dn = f"OU=t{uuid.uuid4().hex[:10]},{samba_dc.BASE_DN}"
    admin.add(dn, ["top", "organizationalUnit"])
    return dn


ConnectorFactory = Callable[..., ActiveDirectoryConnector]


@pytest.fixture
def make_connector(domain_controller: samba_dc.SambaDC, base_dn: str) -> Iterator[ConnectorFactory]:
    made: list[ActiveDirectoryConnector] = []

    def make(**overrides: Any) -> ActiveDirectoryConnector:
        arguments: dict[str, Any] = {
            "url": domain_controller.ldaps_url,
            "bind_user": samba_dc.ADMIN_USER,
            "password": samba_dc.ADMIN_PASSWORD,
            "base_dn": base_dn,
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
def connector(make_connector: ConnectorFactory) -> ActiveDirectoryConnector:
    return make_connector()


AccountFactory = Callable[..., Account]


@pytest.fixture
def make_account() -> AccountFactory:
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


def read(admin: ldap3.Connection, base: str, search_filter: str, *attributes: str) -> list[dict[str, Any]]:
    """Entries as the administrator sees them (dn plus the attributes asked for)."""
    admin.search(base, search_filter, ldap3.SUBTREE, attributes=list(attributes) or ["cn"])
    return [
        {"dn": entry["dn"], **entry["attributes"]}
        for entry in admin.response or []
        if entry["type"] == "searchResEntry"
    ]


def free_loopback_address() -> str:
    """A loopback address nothing listens on (the test DC's address is random too, and never this one)."""
    return "127.255.255.254"
