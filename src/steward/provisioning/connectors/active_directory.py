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

import re
import ssl
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

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
LOGIN_MAX_LENGTH = 20  # sAMAccountName of a user: the pre-Windows 2000 limit AD enforces
PERMISSIVE_MODIFY = "1.2.840.113556.1.4.1413"  # adding a present value / removing an absent one succeeds
_LOGIN_FORBIDDEN = re.compile(r'["/\\\[\]:;|=,+*?<>@]')  # characters AD refuses in a sAMAccountName
_GROUP_NAME_FORBIDDEN = re.compile(r'["/\\\[\]:;|=,+*?<>@]')

# Account fields written as one attribute each; `active`, `container` and `groups` are handled apart.
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


def _guid_filter(remote_id: str) -> str:
    """`(objectGUID=\\xx...)` for an objectGUID in its usual string form (AD stores it little-endian)."""
    try:
        value = uuid.UUID(remote_id.strip("{}"))
    except ValueError:
        raise AccountRefused(f"{remote_id!r} is not an Active Directory objectGUID") from None
    return "(objectGUID=" + "".join(f"\\{byte:02x}" for byte in value.bytes_le) + ")"


def _unescape(value: str) -> str:
    """A DN attribute value without its escapes (`\\,` and `\\2C` both become `,`)."""
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 2 < len(value) + 1 and re.fullmatch(r"[0-9A-Fa-f]{2}", value[i + 1 : i + 3]):
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
        elif char == "\\" and i + 1 < len(value):
            out.extend(value[i + 1].encode())
            i += 2
        else:
            out.extend(char.encode())
            i += 1
    return out.decode("utf-8", errors="replace")


def _dn_key(dn: str) -> tuple[tuple[str, str], ...]:
    """A DN in a form two spellings of the same DN share (AD compares names case-insensitively)."""
    return tuple((kind.strip().lower(), _unescape(value).strip().lower()) for kind, value, _ in parse_dn(dn))


def _ou_path(path: str, what: str) -> list[str]:
    """The OU names of a relative path like ``OU=Year 7,OU=Pupils``, innermost first, unescaped."""
    if not path.strip():
        return []
    try:
        parts = parse_dn(path)
    except ldap_errors.LDAPInvalidDnError as exc:
        raise AccountRefused(f"{what} {path!r} is not an OU path like 'OU=Year 7,OU=Pupils' ({exc})") from None
    names = []
    for kind, value, _ in parts:
        if kind.strip().upper() != "OU" or not _unescape(value).strip():
            raise AccountRefused(f"{what} {path!r} is not an OU path like 'OU=Year 7,OU=Pupils'")
        names.append(_unescape(value).strip())
    return names


def _join(names: Sequence[str], parent: str) -> str:
    return ",".join([f"OU={escape_rdn(name)}" for name in names] + [parent])


def _first(attributes: dict[str, Any], name: str) -> Any:
    value = attributes.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


class ActiveDirectoryConnector:
    """One Active Directory domain (or one OU of it: `base_dn`), reached with a delegated service account.

    `users_ou`, `groups_ou` and `leavers_ou` are relative to `base_dn` and are created when missing, as
    are the OUs of each account's container (relative to `users_ou`) and each group's (relative to
    `groups_ou`). `page_size` is how many entries `existing` asks for at a time (AD's limit is 1000).
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
        self.capabilities = Capabilities(
            containers=True,
            forced_password_change=encrypted,
            passwords=encrypted,
            notes=[
                "Disabled accounts are moved to the leavers OU; enabling one moves it back to its container.",
                *(
                    []
                    if encrypted
                    else ["The connection is not encrypted (ldap:// without StartTLS), so no passwords can be set."]
                ),
            ],
        )

    # -- connection ---------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{'ldaps' if self._ldaps else 'ldap'}://{self._host}:{self._port}"

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
            receive_timeout=self._timeout,
            auto_referrals=False,
            auto_range=True,
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
            try:
                self._connection.unbind()
            except ldap_errors.LDAPException:
                pass  # the connection is being thrown away because it already failed
            self._connection = None

    def _unavailable(self, exc: ldap_errors.LDAPException) -> TargetUnavailable:
        """A plain reason for a failure that stops the whole run."""
        text = str(exc)
        if isinstance(exc, ldap_errors.LDAPInvalidCredentialsResult):
            reason = (
                f"Active Directory at {self._where} refused Steward's sign-in as {self._bind_user!r}: "
                "the user name or password is wrong, or that account is disabled, locked or expired."
            )
        elif isinstance(exc, ldap_errors.LDAPStrongerAuthRequiredResult | ldap_errors.LDAPConfidentialityRequiredResult):
            reason = (
                f"Active Directory at {self._where} only accepts encrypted connections: use an ldaps:// URL "
                "or turn on StartTLS."
            )
        elif "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, ldap_errors.LDAPCertificateError):
            reason = (
                f"The TLS certificate of {self._where} is not trusted or is not for {self._host!r}: "
                "give the CA certificate that issued it, or connect by the name it was issued for."
            )
        elif isinstance(exc, ldap_errors.LDAPStartTLSError):
            reason = f"StartTLS with {self._where} failed: {text}"
        elif isinstance(exc, ldap_errors.LDAPSocketOpenError):
            reason = f"Active Directory at {self._where} cannot be reached (no answer, or the connection was refused)."
        elif isinstance(exc, ldap_errors.LDAPCommunicationError | ldap_errors.LDAPResponseTimeoutError):
            reason = f"The connection to Active Directory at {self._where} was lost or timed out."
        elif isinstance(
            exc,
            ldap_errors.LDAPBusyResult | ldap_errors.LDAPUnavailableResult | ldap_errors.LDAPAdminLimitExceededResult,
        ):
            reason = f"Active Directory at {self._where} is busy or unavailable; try again later."
        elif isinstance(exc, ldap_errors.LDAPInsufficientAccessRightsResult):
            reason = (
                f"Steward's account {self._bind_user!r} is not allowed to do this in Active Directory "
                f"(delegate it control of {self.base_dn})."
            )
        else:
            reason = f"Active Directory at {self._where} failed: {text}"
        return TargetUnavailable(reason)

    @contextmanager
    def _ldap(self, subject: str, *, password_sent: bool = False) -> Iterator[ldap3.Connection]:
        """A bound connection; LDAP failures leave as `TargetUnavailable` or `AccountRefused` for `subject`."""
        connection = self._connect()
        try:
            yield connection
        except ldap_errors.LDAPOperationResult as exc:
            if isinstance(exc, _REFUSALS):
                raise AccountRefused(f"{subject}: {_refusal_reason(exc, password_sent=password_sent)}") from exc
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
                entries = [entry for entry in connection.response or [] if entry.get("type") == "searchResEntry"]
                controls = (connection.result or {}).get("controls", {})
                cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            for entry in entries:
                yield _remote(entry)
            if not cookie:
                return

    def find(self, account: Account) -> RemoteAccount | None:
        subject = _subject(account)
        with self._ldap(subject) as connection:
            if account.external_id:
                by_id = _search(connection, self.base_dn, f"(&{_PERSON}(employeeID={_f(account.external_id)}))")
                if len(by_id) > 1:
                    raise AccountRefused(
                        f"{subject}: {len(by_id)} accounts carry employeeID {account.external_id!r} "
                        f"({', '.join(entry['dn'] for entry in by_id)}); leave it on one of them"
                    )
                if by_id:
                    return _remote(by_id[0])
            names = []
            if account.login:
                names.append(f"(sAMAccountName={_f(account.login)})")
            if account.user_name:
                names.append(f"(userPrincipalName={_f(account.user_name)})")
            if not names:
                return None
            by_name = _search(connection, self.base_dn, f"(&{_PERSON}(|{''.join(names)}))")
            if len(by_name) > 1:
                raise AccountRefused(
                    f"{subject}: the sign-in name and the short name belong to different accounts "
                    f"({', '.join(entry['dn'] for entry in by_name)})"
                )
            return _remote(by_name[0]) if by_name else None

    def _entry(self, connection: ldap3.Connection, remote_id: str) -> dict[str, Any] | None:
        found = _search(connection, self.base_dn, _guid_filter(remote_id), attributes=["userAccountControl"])
        return found[0] if found else None

    # -- writing ------------------------------------------------------------------------------------

    def _ensure_ous(self, connection: ldap3.Connection, dn: str) -> None:
        """Create the OUs of `dn` that are missing, outermost first, stopping at the base."""
        base = _dn_key(self.base_dn)
        parts = parse_dn(dn)
        chain = []
        for i in range(len(parts)):
            suffix = ",".join(f"{kind}={value}" for kind, value, _ in parts[i:])
            if _dn_key(suffix) == base:
                break
            chain.append(suffix)
        for ou in reversed(chain):
            key = _dn_key(ou)
            if key in self._known_ous:
                continue
            try:
                connection.search(ou, "(objectClass=*)", ldap3.BASE, attributes=["objectClass"])
            except ldap_errors.LDAPNoSuchObjectResult:
                name = _unescape(parse_dn(ou)[0][1])
                try:
                    connection.add(ou, ["top", "organizationalUnit"], {"ou": name, "description": "Managed by Steward"})
                except ldap_errors.LDAPEntryAlreadyExistsResult:
                    pass  # made meanwhile by another run
            self._known_ous.add(key)

    def _parent(self, account: Account) -> str:
        if not account.active:
            return self.leavers_dn
        return _join(_ou_path(account.container, "The container"), self.users_dn)

    def create(self, account: Account, *, password: str | None, must_change_password: bool) -> Created:
        subject = _subject(account)
        _check_login(account.login, subject)
        if password is not None and not self.capabilities.passwords:
            raise TargetUnavailable(
                f"Steward connects to {self._where} without encryption (ldap:// without StartTLS), and Active "
                "Directory takes passwords only over LDAPS or StartTLS: use an ldaps:// URL or turn on StartTLS."
            )
        parent = self._parent(account)
        dn = f"CN={escape_rdn(account.login)},{parent}"
        attributes: dict[str, Any] = {
            ldap_name: getattr(account, field) for field, ldap_name in ATTRIBUTES.items() if getattr(account, field)
        }
        attributes["userAccountControl"] = NORMAL_ACCOUNT | (0 if account.active else ACCOUNT_DISABLED)
        if password is not None:
            attributes["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
        with self._ldap(subject, password_sent=password is not None) as connection:
            self._ensure_ous(connection, parent)
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
        writes = [field for field in changed if field in ATTRIBUTES or field in ("active", "container")]
        if not writes:
            return
        if "login" in writes:
            _check_login(account.login, subject)
        with self._ldap(subject) as connection:
            entry = self._entry(connection, remote_id)
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
            parts = parse_dn(dn)
            current_rdn = f"{parts[0][0]}={parts[0][1]}"
            current_parent = ",".join(f"{kind}={value}" for kind, value, _ in parts[1:])
            new_rdn = f"CN={escape_rdn(account.login)}"
            new_parent = self._parent(account) if {"active", "container"} & set(writes) else current_parent
            moved = _dn_key(new_parent) != _dn_key(current_parent)
            if moved:
                self._ensure_ous(connection, new_parent)
            if moved or _dn_key(new_rdn) != _dn_key(current_rdn):
                connection.modify_dn(dn, new_rdn, new_superior=new_parent if moved else None)

    def delete(self, remote_id: str) -> None:
        subject = f"Account {remote_id}"
        with self._ldap(subject) as connection:
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
        parent = _join(_ou_path(container, f"{subject}: the container"), self.groups_dn)
        with self._ldap(subject) as connection:
            self._ensure_ous(connection, parent)
            found = _search(connection, parent, f"(&(objectClass=group)(cn={_f(name)}))", scope=ldap3.LEVEL)
            if found:
                return _guid(found[0])
            dn = f"CN={escape_rdn(name)},{parent}"
            account_name = _GROUP_NAME_FORBIDDEN.sub("", name).strip(" .")[:64] or None
            attributes: dict[str, Any] = {
                "groupType": GLOBAL_SECURITY_GROUP,
                "description": "Managed by Steward",
            }
            if account_name:
                attributes["sAMAccountName"] = account_name
            connection.add(dn, ["top", "group"], attributes)
            return _guid(_search(connection, dn, "(objectClass=group)", scope=ldap3.BASE)[0])

    def change_members(self, group_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """One modify of the group's `member`, with AD's permissive-modify control so that adding a member
        who is in already, or removing one who is not, is not an error (runs repeat after failures)."""
        if not add and not remove:
            return
        subject = f"Group {group_id}"
        with self._ldap(subject) as connection:
            group = self._entry(connection, group_id)
            if group is None:
                raise AccountRefused(f"{subject} is no longer in Active Directory")
            subject = f"Group {group['dn']}"
            adding = []
            for remote_id in add:
                member = self._entry(connection, remote_id)
                if member is None:
                    raise AccountRefused(f"{subject}: account {remote_id} to add is not in Active Directory")
                adding.append(member["dn"])
            removing = [entry["dn"] for entry in (self._entry(connection, rid) for rid in remove) if entry is not None]
            changes: list[tuple[str, list[str]]] = []
            if adding:
                changes.append((ldap3.MODIFY_ADD, adding))
            if removing:
                changes.append((ldap3.MODIFY_DELETE, removing))
            if changes:
                connection.modify(group["dn"], {"member": changes}, controls=[(PERMISSIVE_MODIFY, False, None)])


# Result codes that are about the one account or group being written, not about the directory.
_REFUSALS = (
    ldap_errors.LDAPEntryAlreadyExistsResult,
    ldap_errors.LDAPConstraintViolationResult,
    ldap_errors.LDAPUnwillingToPerformResult,
    ldap_errors.LDAPAttributeOrValueExistsResult,
    ldap_errors.LDAPInvalidAttributeSyntaxResult,
    ldap_errors.LDAPObjectClassViolationResult,
    ldap_errors.LDAPNamingViolationResult,
    ldap_errors.LDAPInvalidDNSyntaxResult,
    ldap_errors.LDAPNotAllowedOnRDNResult,
    ldap_errors.LDAPNoSuchObjectResult,
    ldap_errors.LDAPNoSuchAttributeResult,
    ldap_errors.LDAPUndefinedAttributeTypeResult,
)


def _refusal_reason(exc: ldap_errors.LDAPOperationResult, *, password_sent: bool) -> str:
    """Words for a school admin, with the directory's own message after them for their IT support."""
    detail = (exc.message or exc.description or "").strip()
    said = f" (Active Directory said: {detail})" if detail else ""
    password_words = ("0000052D", "password", "pwd")
    if password_sent and any(word.lower() in detail.lower() for word in password_words):
        return "the initial password does not meet the domain's password policy (length, complexity or history)" + said
    if isinstance(exc, ldap_errors.LDAPEntryAlreadyExistsResult | ldap_errors.LDAPAttributeOrValueExistsResult):
        return "another account or group already has this name (sAMAccountName, sign-in name or name in the OU)" + said
    if isinstance(exc, ldap_errors.LDAPNoSuchObjectResult):
        return "it, or the OU it belongs in, is not in Active Directory" + said
    if isinstance(exc, ldap_errors.LDAPConstraintViolationResult):
        return "Active Directory refused one of its values (too long, or not unique)" + said
    return "Active Directory refused it" + said


def _subject(account: Account) -> str:
    return f"Account {account.login!r} ({account.external_id})"


def _check_login(login: str, subject: str) -> None:
    if not login:
        raise AccountRefused(f"{subject}: the short name (sAMAccountName) is empty")
    if len(login) > LOGIN_MAX_LENGTH:
        raise AccountRefused(
            f"{subject}: the short name (sAMAccountName) has {len(login)} characters; "
            f"Active Directory allows at most {LOGIN_MAX_LENGTH}"
        )
    bad = sorted(set(_LOGIN_FORBIDDEN.findall(login)))
    if bad or login.endswith("."):
        shown = " ".join(bad) if bad else "a full stop at the end"
        raise AccountRefused(f"{subject}: the short name (sAMAccountName) may not contain {shown}")


def _f(value: str) -> str:
    return str(escape_filter_chars(value))


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
    return [dict(entry) for entry in connection.response or [] if entry.get("type") == "searchResEntry"]


def _guid(entry: dict[str, Any]) -> str:
    raw = entry["raw_attributes"]["objectGUID"]
    return str(uuid.UUID(bytes_le=bytes(raw[0] if isinstance(raw, list) else raw)))


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
