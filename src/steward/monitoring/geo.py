"""Country of an IP address from the offline database shipped in `geoip2fast` (no network lookups).

The database is `core.geoip`'s, shared with sessions and loaded once per process when first needed.
An address the database does not place (private, reserved, unknown) has no country: the rules that
compare countries skip it rather than guess.
"""

from __future__ import annotations

from steward.core import geoip


def country_of(ip: str | None) -> str:
    """ISO 3166 alpha-2 code, or "" when the address is not placed."""
    if not ip:
        return ""
    try:
        return geoip.lookup(str(ip)).country_code
    except ValueError:  # not an address: nothing to place
        return ""
