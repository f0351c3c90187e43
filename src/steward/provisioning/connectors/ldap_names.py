"""Distinguished names, OU paths and search filters for the LDAP connectors, escaped on the way out.

Names at schools carry apostrophes, hyphens, diacritics and now and then a comma or a plus sign
(``Class 7, St Mary's``). Written unescaped into a DN or a filter they would name another object, or
none; so every value goes out through `escape_rdn` / `escape_filter_chars`, and DNs the server sends
back are compared by their unescaped, case-folded parts (AD compares names case-insensitively and
may escape differently from us: ``\\,`` or ``\\2C``).

The DN splitter here is our own rather than ldap3's `parse_dn`, which refuses values RFC 4514 allows
unescaped (a ``#`` inside a value, as in ``OU=Form # 1``), and such DNs come back from AD.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

LOGIN_MAX_LENGTH = 20  # sAMAccountName of a user: the pre-Windows 2000 limit AD enforces
_ACCOUNT_NAME_FORBIDDEN = re.compile(r'["/\\\[\]:;|=,+*?<>@]')  # characters AD refuses in a sAMAccountName
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")


class BadName(ValueError):
    """A DN, OU path or account name that cannot be used; the message says why."""


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    """A DN attribute value without its escapes (``\\,`` and ``\\2C`` both become ``,``)."""
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "\\" and _HEX_PAIR.fullmatch(value[i + 1 : i + 3]):
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
        elif value[i] == "\\" and i + 1 < len(value):
            out.extend(value[i + 1].encode())
            i += 2
        else:
            out.extend(value[i].encode())
            i += 1
    return out.decode("utf-8", errors="replace")


def rdns(dn: str) -> list[tuple[str, str]]:
    """The (attribute type, escaped value) pairs of a DN, innermost first.

    A multi-valued RDN (``CN=a+OU=b``) is refused: Steward never writes one, and AD has none."""
    pairs = []
    for part in _split_unescaped(dn, ","):
        if len(_split_unescaped(part, "+")) > 1:
            raise BadName(f"{dn!r}: an unescaped '+' (write it as '\\+')")
        kind, equals, value = part.partition("=")
        if not equals or not re.fullmatch(r"\s*[A-Za-z][A-Za-z0-9-]*\s*", kind):
            raise BadName(f"{dn!r}: {part!r} is not of the form NAME=value")
        pairs.append((kind.strip(), value.strip()))
    return pairs


def dn_key(dn: str) -> tuple[tuple[str, str], ...]:
    """A DN in a form that two spellings of the same DN share."""
    return tuple((kind.lower(), unescape(value).lower()) for kind, value in rdns(dn))


def parent_of(dn: str) -> tuple[str, str]:
    """(the first RDN, the parent DN) of a DN, split at its first unescaped comma."""
    parts = _split_unescaped(dn, ",")
    return parts[0].strip(), ",".join(parts[1:]).strip()


def ou_names(path: str, what: str) -> list[str]:
    """The OU names of a relative path like ``OU=Year 7,OU=Pupils``, innermost first, unescaped."""
    if not path.strip():
        return []
    example = "like 'OU=Year 7,OU=Pupils'"
    try:
        pairs = rdns(path)
    except BadName as exc:
        raise BadName(f"{what} {path!r} is not an OU path {example} ({exc})") from None
    names = []
    for kind, value in pairs:
        name = unescape(value).strip()
        if kind.upper() != "OU" or not name:
            raise BadName(f"{what} {path!r} is not an OU path {example}")
        names.append(name)
    return names


def under(names: Sequence[str], parent: str) -> str:
    """The DN of the OU path `names` (innermost first) under `parent`, every name escaped."""
    return ",".join([f"OU={escape_rdn(name)}" for name in names] + [parent])


def ancestors_below(dn: str, base: str) -> list[str]:
    """The DNs from just under `base` down to `dn` itself, outermost first (the OUs to make, in order)."""
    parts = _split_unescaped(dn, ",")
    base_key = dn_key(base)
    chain: list[str] = []
    for i in range(len(parts)):
        suffix = ",".join(parts[i:])
        if dn_key(suffix) == base_key:
            return list(reversed(chain))
        chain.append(suffix)
    raise BadName(f"{dn!r} is not under {base!r}")


def cn(name: str) -> str:
    return f"CN={escape_rdn(name)}"


def filter_value(value: str) -> str:
    return str(escape_filter_chars(value))


def guid_filter(remote_id: str) -> str:
    """``(objectGUID=\\xx...)`` for an objectGUID in its usual string form (AD stores it little-endian)."""
    try:
        value = uuid.UUID(remote_id.strip("{}"))
    except ValueError:
        raise BadName(f"{remote_id!r} is not an Active Directory objectGUID") from None
    return "(objectGUID=" + "".join(f"\\{byte:02x}" for byte in value.bytes_le) + ")"


def guid_string(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw))


def login_problem(login: str) -> str | None:
    """Why AD would refuse this sAMAccountName for a user, or None."""
    if not login:
        return "the short name (sAMAccountName) is empty"
    if len(login) > LOGIN_MAX_LENGTH:
        return f"the short name (sAMAccountName) has {len(login)} characters; AD allows at most {LOGIN_MAX_LENGTH}"
    bad = sorted(set(_ACCOUNT_NAME_FORBIDDEN.findall(login)))
    if bad:
        return f"the short name (sAMAccountName) may not contain {' '.join(bad)}"
    if login.endswith("."):
        return "the short name (sAMAccountName) may not end with a full stop"
    return None


def group_account_name(name: str) -> str:
    """A group's sAMAccountName: its name without the characters AD refuses there, at most 64 long."""
    return _ACCOUNT_NAME_FORBIDDEN.sub("", name).strip(" .")[:64]
