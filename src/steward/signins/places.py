"""Where a sign-in came from and on what, read offline: no lookup ever leaves the server.

The country and network come from geoip2fast's database, shipped inside its wheel (MaxMind
GeoLite2 country and ASN data, IPv4 and IPv6), loaded once per process on first use (about half a
second). The device is ua-parser's reading of the User-Agent header ("Chrome on Windows").
Loopback, private and unlisted addresses have no country: they are "unknown", never an error.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ua_parser import parse

from steward.core import geoip
from steward.core.outbound import is_public_address


@dataclass(frozen=True)
class Place:
    country_code: str = ""
    country_name: str = ""
    network: str = ""


def _prefix(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is in: the network, when the database names no owner."""
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def place_of(ip: str | None) -> Place:
    """The country and network of an address; an empty `Place` for one that is not an address."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return Place()
    if not is_public_address(str(address)):  # private, loopback, link-local, reserved, NAT64 ...
        return Place(network=_prefix(address))
    found = geoip.lookup(str(address))
    return Place(
        country_code=found.country_code,
        country_name=found.country_name,
        network=found.network[:200] if found.network else _prefix(address),
    )


def device_of(user_agent: str) -> str:
    """ "Firefox on Windows", "Mobile Safari on iOS (iPhone)"; "Unknown device" when nothing is recognised."""
    if not user_agent:
        return "Unknown device"
    result = parse(user_agent[:500])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    device = result.device.family if result.device else ""
    browser = "" if browser == "Other" else browser
    system = "" if system == "Other" else system
    words = " on ".join(w for w in (browser, system) if w) or "Unknown device"
    if device and device not in ("Other", "Spider") and device not in words:
        words += f" ({device})"
    return words[:200]
