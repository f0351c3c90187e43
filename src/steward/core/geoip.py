"""The one offline IP database of the process: geoip2fast's country and ASN data, IPv4 and IPv6.

Sessions (`signins.places`) and monitoring (`monitoring.geo`) both place sign-in addresses. They
share this loader, so a process holds one copy of the database (loaded on first use, about half a
second) and both answer from the same data. Nothing is ever looked up over the network.
"""

from __future__ import annotations

import ipaddress
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

_DATABASE = "geoip2fast-asn-ipv6.dat.gz"


@dataclass(frozen=True)
class Found:
    """What the database says of an address; empty strings when it does not place it."""

    country_code: str = ""
    country_name: str = ""
    network: str = ""


@cache
def _database() -> Any:
    # geoip2fast 1.2.2 (the latest) writes one regex of its command-line code without a raw string:
    # compiling it warns (DeprecationWarning up to Python 3.11, SyntaxWarning after), which a run with
    # warnings as errors (the tests) would turn into a SyntaxError.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast(geoip2fast_data_file=_DATABASE, verbose=False)


def lookup(ip: str) -> Found:
    """The country (ISO 3166 alpha-2 and name) and the network's owner of a public address (a
    ValueError for text that is not an address)."""
    address = ipaddress.ip_address(ip)
    # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d, which the database does not place.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    found = _database().lookup(str(address))
    code = str(getattr(found, "country_code", "") or "")
    if len(code) != 2 or not code.isalpha():  # "--" for reserved ranges, "" when not in the database
        return Found(network=str(getattr(found, "asn_name", "") or "").strip())
    return Found(
        country_code=code,
        country_name=str(getattr(found, "country_name", "") or ""),
        network=str(getattr(found, "asn_name", "") or "").strip(),
    )
