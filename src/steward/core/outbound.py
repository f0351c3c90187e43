"""Where Steward may send requests: the check against server-side request forgery.

Steward posts to addresses other people give it (a recipient's webhook URL, a browser's push
endpoint). Without a check, whoever sets such an address could make the server call into the
ICT service's own network. An address must be https and resolve only to public addresses,
unless its host is in `OUTBOUND_ALLOWED_PRIVATE` (hosts or networks the processor has approved,
e.g. an LA system on its private network); the check runs when the address is recorded and
again before each request, since DNS can change in between.
"""

from __future__ import annotations

import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from django.conf import settings

# IPv6 forms that carry an IPv4 address the packet really goes to (or through). Python's
# `is_global` judges the IPv6 prefix only, so `[::ffff:127.0.0.1]`, `[::127.0.0.1]` or
# `[64:ff9b::a9fe:a9fe]` would pass as "global" although they reach loopback or the cloud
# metadata service through a translator or the host's own dual stack.
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated (RFC 4291 2.5.5.1), still routed by some stacks
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
_NAT64_LOCAL_USE = IPv6Network("64:ff9b:1::/48")  # RFC 8215: an operator's own translators, never public


def _allowed_private(host: str, addresses: set[str]) -> bool:
    for entry in settings.OUTBOUND_ALLOWED_PRIVATE:
        if entry == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if addresses and all(ipaddress.ip_address(a) in network for a in addresses):
            return True
    return False


def _embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped, compatible, NAT64, 6to4, Teredo."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the relay server and the (de-obfuscated) client
    if address in _NAT64_WELL_KNOWN or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return [IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def is_public_address(text: str) -> bool:
    """Whether a request to this address reaches only the public internet.

    An IPv6 address that embeds an IPv4 one is public only if the IPv4 one is; translated forms
    (mapped, compatible, NAT64) and 6to4 (a relay delivers to the IPv4 address it names) are
    judged by the IPv4 address alone, Teredo by both. 6to4 is not left to `is_global`: Python's
    table for 2002::/16 changed between 3.11 patch releases (3.11.2 calls it private).
    """
    address = ipaddress.ip_address(text)
    if isinstance(address, IPv4Address):
        return address.is_global
    if address in _NAT64_LOCAL_USE:
        return False
    embedded = _embedded_ipv4(address)
    if not all(a.is_global for a in embedded):
        return False
    translated = (
        address.ipv4_mapped is not None
        or address.sixtofour is not None
        or address in _NAT64_WELL_KNOWN
        or address in _IPV4_COMPATIBLE
    )
    return (bool(embedded) and translated) or address.is_global


# The port a scheme means when the URL names none.
_DEFAULT_PORTS = {"https": 443, "http": 80, "ldaps": 636, "ldap": 389}


def outbound_refusal(
    url: str, *, public: tuple[str, ...] = ("https",), private: tuple[str, ...] = ("https", "http")
) -> str:
    """Why Steward will not send to this URL ("" if it may).

    `public` are the schemes allowed to public addresses; `private` those allowed to hosts the
    processor approved (`OUTBOUND_ALLOWED_PRIVATE`). Webhooks and push endpoints keep the defaults
    (https out there, plain http only inside); a directory passes its own (`ldaps`/`ldap`)."""
    parts = urlsplit(url)
    host = parts.hostname
    wanted = f"an {' or '.join(public)} URL"
    if parts.scheme not in {*public, *private} or not host:
        return f"the address must be {wanted}"
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
        addresses = {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host, port)}
    except (socket.gaierror, UnicodeError, ValueError):
        return f"the host {host} does not resolve"
    if parts.scheme in private and _allowed_private(host, addresses):
        return ""
    if parts.scheme not in public:
        return f"the address must be {wanted} ({parts.scheme}:// only to a host approved on the private network)"
    if not all(is_public_address(a) for a in addresses):
        return f"{host} is a private, loopback or link-local address"
    return ""
