"""The Active Directory connector: carries one account operation at a time to a school's AD over LDAP.

Why it is shaped the way it is:
- Only encrypted connections carry passwords. AD takes an initial password (`unicodePwd`) only over
  LDAPS or StartTLS, and Steward's own bind password should never cross the network in clear either,
  so a plain `ldap://` target without StartTLS reports `capabilities.passwords = False` and a create
  with a password stops the run (`TargetUnavailable`) before anything is sent. Certificates are always
  verified (against `ca_file`, or the system's CAs), host name included.
- An account's relative name is `CN=<sAMAccountName>`, not its display name: sAMAccountName is unique in
  the whole domain, so two pupils called Jo Smith in one year group never collide, and a move between
  OUs can never clash with a namesake.
- Disabled accounts live in `leavers_ou`, away from the OUs whose group policies and shares apply to
  current pupils and staff; enabling an account moves it back to its container. Every other change of
  place is a `container` change, carried out as a move (modify DN), which keeps the objectGUID, group
  memberships and password.
- The account's id in Steward (`remote_id`) is its objectGUID, which survives renames and moves;
  `employeeID` carries Steward's external id so that `find` adopts existing accounts.
- Failures are sorted into the two kinds the run understands (see `base.py`): the server, the
  connection, TLS or Steward's own credentials -> `TargetUnavailable`; a value or name the directory
  refuses for one account or group -> `AccountRefused`, naming it.

No Django here: the connector is tested alone against a real AD (Samba's AD DC, see DESIGN.md).
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors

from steward.provisioning.connectors import ldap_names as names
from steward.provisioning.connectors.active_directory_errors import REFUSALS, refused, unavailable
from steward.provisioning.connectors.base import (
    Account,
    AccountRefused,
    Capabilities,
    Created,
    RemoteAccount,
    TargetUnavailable,
)

ACCOUNT_DISABLED = 0x0002  # userAccountControl ACCOUNTDISABLE
NORMAL_ACCOUNT = 0x0200  # userAccountControl NORMAL_ACCOUNT
GLOBAL_SECURITY_GROUP = -2147483646  # groupType: global scope (0x2) | security enabled (0x80000000)
PERMISSIVE_MODIFY = "1.2.840.113556.1.4.1413"  # adding a present value / removing an absent one succeeds
PAGED_RESULTS = "1.2.840.113556.1.4.319"

# Account fields written as one attribute each; `active` and `container` are handled apart.
ATTRIBUTES: dict[str, str] = {
    "external_id": "employeeID",
    "user_name": "userPrincipalName",
    "login": "sAMAccountName",
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "displayName",
    "email": "mail",
    "title": "title",
    "department": "department",
}
_NOT_WRITTEN = frozenset({"kind", "groups"})  # kind shapes container and groups; groups go through change_members
_READ = ["objectGUID", "userPrincipalName", "sAMAccountName", "employeeID", "mail", "userAccountControl"]
_PERSON = "(&(objectCategory=person)(objectClass=user))"


class _VerifiedTls(ldap3.Tls):
    """TLS as Python's default client context does it: certificate chain and host name checked.

    ldap3's own host name check calls `ssl.match_hostname`, deprecated since Python 3.7 and gone in
    3.12; handing `server_hostname` to the context lets OpenSSL check names and IP addresses itself.
    """

    def __init__(self, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self._context = ssl.create_default_context(cafile=ca_file)

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket, server_hostname=connection.server.host, do_handshake_on_connect=do_handshake
        )


class ActiveDirectoryConnector:
    """One Active Directory domain (or one OU of it: `base_dn`), reached with a delegated service account.

    `users_ou`, `groups_ou` and `leavers_ou` are relative to `base_dn` and are created when missing, as
    are the OUs of each account's container (relative to `users_ou`) and each group's (relative to
    `groups_ou`). `page_size` (an addition to the agreed signature) is how many entries `existing` asks
    for at a time; AD's own limit is 1000.
    """

    def __init__(
        self,
        url: str,
        bind_user: str,
        password: str,
        base_dn: str,
        *,
        start_tls: bool = False,
        ca_file: str | None = None,
        users_ou: str = "OU=Steward",
        groups_ou: str = "OU=Groups,OU=Steward",
        leavers_ou: str = "OU=Leavers,OU=Steward",
        timeout: float = 10.0,
        page_size: int = 500,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"{url!r} is not an ldap:// or ldaps:// URL")
        if parts.scheme == "ldaps" and start_tls:
            raise ValueError("StartTLS is for ldap:// URLs; an ldaps:// connection is encrypted already")
        self._host = parts.hostname
        self._ldaps = parts.scheme == "ldaps"
        self._port = parts.port or (636 if self._ldaps else 389)
        self._start_tls = start_tls
        self._bind_user = bind_user
        self._password = password
        self._ca_file = ca_file
        self._timeout = timeout
        self._page_size = page_size
        self.base_dn = base_dn
        self.users_dn = f"{users_ou},{base_dn}"
        self.groups_dn = f"{groups_ou},{base_dn}"
        self.leavers_dn = f"{leavers_ou},{base_dn}"
        self._connection: ldap3.Connection | None = None
        self._known_ous: set[tuple[tuple[str, str], ...]] = set()
        encrypted = self._ldaps or start_tls
        notes = ["Disabled accounts are moved to the leavers OU; enabling one moves it back to its container."]
        if not encrypted:
            notes.append("The connection is not encrypted (ldap:// without StartTLS), so no passwords can be set.")
        self.capabilities = Capabilities(
            containers=True, forced_password_change=encrypted, passwords=encrypted, notes=notes
        )

    # -- connection ---------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{'ldaps' if self._ldaps else 'ldap'}://{self._host}:{self._port}"

    def _unavailable(self, exc: ldap_errors.LDAPException) -> TargetUnavailable:
        return unavailable(exc, where=self._where, host=self._host, bind_user=self._bind_user, base_dn=self.base_dn)

    def _connect(self) -> ldap3.Connection:
        if self._connection is not None and self._connection.bound and not self._connection.closed:
            return self._connection
        self._drop()
        server = ldap3.Server(
            self._host,
            port=self._port,
            use_ssl=self._ldaps,
            tls=_VerifiedTls(self._ca_file) if (self._ldaps or self._start_tls) else None,
            connect_timeout=self._timeout,
            get_info=ldap3.NONE,
        )
        connection = ldap3.Connection(
            server,
            user=self._bind_user,
            password=self._password,
            authentication=ldap3.SIMPLE,
            raise_exceptions=True,
            receive_timeout=max(1, math.ceil(self._timeout)),  # ldap3 packs it into a socket option: whole seconds
            auto_referrals=False,
            auto_range=True,  # large groups' `member` comes in ranges from AD; ldap3 joins them
        )
        try:
            connection.open()
            if self._start_tls:
                connection.start_tls()
            connection.bind()
        except ldap_errors.LDAPException as exc:
            connection.unbind()
            raise self._unavailable(exc) from exc
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            with suppress(ldap_errors.LDAPException):  # thrown away because it failed already
                self._connection.unbind()
            self._connection = None

    @contextmanager
    def _ldap(self, subject: str, *, password_sent: bool = False) -> Iterator[ldap3.Connection]:
        """A bound connection; failures leave as `TargetUnavailable`, or `AccountRefused` naming `subject`."""
        try:
            connection = self._connect()
            yield connection
        except names.BadName as exc:
            raise AccountRefused(f"{subject}: {exc}") from None
        except ldap_errors.LDAPInvalidDnError as exc:  # ldap3 could not make a DN of a name: this one's problem
            raise AccountRefused(f"{subject}: its name does not make a valid LDAP name ({exc})") from exc
        except ldap_errors.LDAPOperationResult as exc:
            if isinstance(exc, REFUSALS):
                raise refused(subject, exc, password_sent=password_sent) from exc
            self._drop()
            raise self._unavailable(exc) from exc
        except ldap_errors.LDAPException as exc:
            self._drop()
            raise self._unavailable(exc) from exc

    def check(self) -> None:
        with self._ldap(f"The base {self.base_dn!r}") as connection:
            try:
                connection.search(self.base_dn, "(objectClass=*)", ldap3.BASE, attributes=["objectClass"])
            except ldap_errors.LDAPNoSuchObjectResult:
                raise TargetUnavailable(f"The base {self.base_dn!r} does not exist in Active Directory.") from None

    def close(self) -> None:
        self._drop()

    # -- reading ------------------------------------------------------------------------------------

    def existing(self) -> Iterator[RemoteAccount]:
        """Every user account under the base, page by page; built-in accounts (Administrator, Guest,
        krbtgt: isCriticalSystemObject) are left out, since Steward never adopts them."""
        search_filter = f"(&{_PERSON}(!(isCriticalSystemObject=TRUE)))"
        cookie: bytes | str | None = None
        while True:
            with self._ldap(f"Listing the accounts under {self.base_dn!r}") as connection:
                connection.search(
                    self.base_dn,
                    search_filter,
                    ldap3.SUBTREE,
                    attributes=_READ,
                    paged_size=self._page_size,
                    paged_cookie=cookie,
                )
                entries = _entries(connection)
                controls = (connection.result or {}).get("controls", {})
                cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
            for entry in entries:
                yield _remote(entry)
            if not cookie:
                return

    def find(self, account: Account) -> RemoteAccount | None:
        subject = _subject(account)
        with self._ldap(subject) as connection:
            if account.external_id:
                by_id = _search(
                    connection, self.base_dn, f"(&{_PERSON}(employeeID={names.filter_value(account.external_id)}))"
                )
                if len(by_id) > 1:
                    raise AccountRefused(
                        f"{subject}: {len(by_id)} accounts carry employeeID {account.external_id!r} "
                        f"({'; '.join(entry['dn'] for entry in by_id)}); leave it on one of them"
                    )
                if by_id:
                    return _remote(by_id[0])
            wanted = []
            if account.login:
                wanted.append(f"(sAMAccountName={names.filter_value(account.login)})")
            if account.user_name:
                wanted.append(f"(userPrincipalName={names.filter_value(account.user_name)})")
            if not wanted:
                return None
            by_name = _search(connection, self.base_dn, f"(&{_PERSON}(|{''.join(wanted)}))")
            if len(by_name) > 1:
                raise AccountRefused(
                    f"{subject}: its short name and its sign-in name belong to different accounts "
                    f"({'; '.join(entry['dn'] for entry in by_name)})"
                )
            return _remote(by_name[0]) if by_name else None

    def _entry(self, connection: ldap3.Connection, remote_id: str, *attributes: str) -> dict[str, Any] | None:
        found = _search(connection, self.base_dn, names.guid_filter(remote_id), attributes=[*attributes, "objectGUID"])
        return found[0] if found else None

    # -- writing ------------------------------------------------------------------------------------

    def _ensure_ous(self, connection: ldap3.Connection, dn: str) -> None:
        """Create the OUs from the base down to `dn` that are missing, outermost first."""
        for ou in names.ancestors_below(dn, self.base_dn):
            key = names.dn_key(ou)
            if key in self._known_ous:
                continue
            try:
                connection.search(ou, "(objectClass=*)", ldap3.BASE, attributes=["objectClass"])
            except ldap_errors.LDAPNoSuchObjectResult:
                name = names.unescape(names.rdns(ou)[0][1])
                with suppress(ldap_errors.LDAPEntryAlreadyExistsResult):  # made meanwhile by another run
                    connection.add(ou, ["top", "organizationalUnit"], {"ou": name, "description": "Managed by Steward"})
            self._known_ous.add(key)

    def _parent(self, account: Account) -> str:
        if not account.active:
            return self.leavers_dn
        return names.under(names.ou_names(account.container, "the container"), self.users_dn)

    def create(self, account: Account, *, password: str | None, must_change_password: bool) -> Created:
        subject = _subject(account)
        problem = names.login_problem(account.login)
        if problem:
            raise AccountRefused(f"{subject}: {problem}")
        if password is not None and not self.capabilities.passwords:
            raise TargetUnavailable(
                f"Steward connects to {self._where} without encryption (ldap:// without StartTLS), and Active "
                "Directory takes passwords only over LDAPS or StartTLS: use an ldaps:// URL or turn on StartTLS."
            )
        attributes: dict[str, Any] = {
            ldap_name: getattr(account, field) for field, ldap_name in ATTRIBUTES.items() if getattr(account, field)
        }
        attributes["userAccountControl"] = NORMAL_ACCOUNT | (0 if account.active else ACCOUNT_DISABLED)
        if password is not None:
            attributes["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
        with self._ldap(subject, password_sent=password is not None) as connection:
            parent = self._parent(account)
            dn = f"{names.cn(account.login)},{parent}"
            self._ensure_ous(connection, parent)
            # One add carries the password and the enabled flag, so AD's password policy applies before
            # the account exists at all.
            connection.add(dn, ["top", "person", "organizationalPerson", "user"], attributes)
            try:
                if must_change_password:
                    connection.modify(dn, {"pwdLastSet": [(ldap3.MODIFY_REPLACE, [0])]})
                created = _search(connection, dn, "(objectClass=user)", scope=ldap3.BASE)
            except ldap_errors.LDAPException:
                connection.delete(dn)  # the whole operation or nothing: no half-made account stays behind
                raise
        return Created(remote_id=_remote(created[0]).remote_id)

    def update(self, remote_id: str, account: Account, changed: Sequence[str]) -> None:
        subject = _subject(account)
        unknown = set(changed) - set(ATTRIBUTES) - {"active", "container"} - _NOT_WRITTEN
        if unknown:
            raise ValueError(f"not fields of Account: {sorted(unknown)}")
        writes = [field for field in changed if field not in _NOT_WRITTEN]
        if not writes:
            return
        problem = names.login_problem(account.login) if "login" in writes else None
        if problem:
            raise AccountRefused(f"{subject}: {problem}")
        with self._ldap(subject) as connection:
            entry = self._entry(connection, remote_id, "userAccountControl")
            if entry is None:
                raise AccountRefused(f"{subject}: the account ({remote_id}) is no longer in Active Directory")
            dn: str = entry["dn"]
            changes: dict[str, Any] = {}
            for field in writes:
                if field in ATTRIBUTES:
                    value = getattr(account, field)
                    changes[ATTRIBUTES[field]] = [(ldap3.MODIFY_REPLACE, [value] if value else [])]
            if "active" in writes:
                flags = int(_first(entry["attributes"], "userAccountControl") or NORMAL_ACCOUNT)
                flags = flags & ~ACCOUNT_DISABLED if account.active else flags | ACCOUNT_DISABLED
                changes["userAccountControl"] = [(ldap3.MODIFY_REPLACE, [flags])]
            if changes:
                connection.modify(dn, changes)
            current_rdn, current_parent = names.parent_of(dn)
            new_rdn = names.cn(account.login)
            new_parent = self._parent(account) if {"active", "container"} & set(writes) else current_parent
            moved = names.dn_key(new_parent) != names.dn_key(current_parent)
            if moved:
                self._ensure_ous(connection, new_parent)
            if moved or names.dn_key(new_rdn) != names.dn_key(current_rdn):
                connection.modify_dn(dn, new_rdn, new_superior=new_parent if moved else None)

    def delete(self, remote_id: str) -> None:
        with self._ldap(f"Account {remote_id}") as connection:
            entry = self._entry(connection, remote_id)
            if entry is None:
                return
            try:
                connection.delete(entry["dn"])
            except ldap_errors.LDAPNoSuchObjectResult:
                return  # deleted meanwhile

    # -- groups -------------------------------------------------------------------------------------

    def ensure_group(self, name: str, container: str = "") -> str:
        """A global security group called `name` in `groups_ou` (or a container under it).

        Its sAMAccountName is the name without the characters AD refuses there, so that admins see the
        same name in file-share permissions as in the console.
        """
        subject = f"Group {name!r}"
        if not name.strip():
            raise AccountRefused("A group needs a name")
        with self._ldap(subject) as connection:
            parent = names.under(names.ou_names(container, "the container"), self.groups_dn)
            self._ensure_ous(connection, parent)
            found = _search(
                connection, parent, f"(&(objectClass=group)(cn={names.filter_value(name)}))", scope=ldap3.LEVEL
            )
            if found:
                return _guid(found[0])
            dn = f"{names.cn(name)},{parent}"
            attributes: dict[str, Any] = {"groupType": GLOBAL_SECURITY_GROUP, "description": "Managed by Steward"}
            account_name = names.group_account_name(name)
            if account_name:
                attributes["sAMAccountName"] = account_name
            connection.add(dn, ["top", "group"], attributes)
            return _guid(_search(connection, dn, "(objectClass=group)", scope=ldap3.BASE)[0])

    def change_members(self, group_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """One modify of the group's `member` with only the real changes: adding a member who is in
        already, or removing one who is not, is no error (a run repeats after a failure). The current
        members are read first, since Samba ignores AD's permissive-modify control on `member` (it is
        still sent, so a Windows AD also tolerates a change made between the read and the write)."""
        if not add and not remove:
            return
        subject = f"Group {group_id}"
        with self._ldap(subject) as connection:
            group = self._entry(connection, group_id, "member")
            if group is None:
                raise AccountRefused(f"{subject} is no longer in Active Directory")
            group_dn: str = group["dn"]
            subject = f"Group {group_dn}"
            members = {names.dn_key(dn) for dn in group["attributes"].get("member") or []}
            adding = []
            for remote_id in add:
                member = self._entry(connection, remote_id)
                if member is None:
                    raise AccountRefused(f"{subject}: account {remote_id} to add is not in Active Directory")
                if names.dn_key(member["dn"]) not in members:
                    adding.append(member["dn"])
            removing = []
            for remote_id in remove:
                member = self._entry(connection, remote_id)
                if member is not None and names.dn_key(member["dn"]) in members:
                    removing.append(member["dn"])
            changes: list[tuple[str, list[str]]] = []
            if adding:
                changes.append((ldap3.MODIFY_ADD, adding))
            if removing:
                changes.append((ldap3.MODIFY_DELETE, removing))
            if changes:
                connection.modify(group_dn, {"member": changes}, controls=[(PERMISSIVE_MODIFY, False, None)])


def _subject(account: Account) -> str:
    return f"Account {account.login!r} ({account.external_id})"


def _entries(connection: ldap3.Connection) -> list[dict[str, Any]]:
    return [dict(entry) for entry in connection.response or [] if entry.get("type") == "searchResEntry"]


def _search(
    connection: ldap3.Connection,
    base: str,
    search_filter: str,
    *,
    scope: Any = ldap3.SUBTREE,
    attributes: list[str] | None = None,
) -> list[dict[str, Any]]:
    try:
        connection.search(base, search_filter, scope, attributes=attributes or _READ)
    except ldap_errors.LDAPNoSuchObjectResult:
        return []
    return _entries(connection)


def _first(attributes: dict[str, Any], name: str) -> Any:
    value = attributes.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _guid(entry: dict[str, Any]) -> str:
    raw = entry["raw_attributes"]["objectGUID"]
    return names.guid_string(bytes(raw[0] if isinstance(raw, list) else raw))


def _remote(entry: dict[str, Any]) -> RemoteAccount:
    attributes = entry["attributes"]
    flags = int(_first(attributes, "userAccountControl") or NORMAL_ACCOUNT)
    return RemoteAccount(
        remote_id=_guid(entry),
        user_name=str(_first(attributes, "userPrincipalName") or _first(attributes, "sAMAccountName") or ""),
        external_id=str(_first(attributes, "employeeID") or ""),
        email=str(_first(attributes, "mail") or ""),
        active=not flags & ACCOUNT_DISABLED,
    )
