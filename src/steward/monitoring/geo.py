"""Country of an IP address from the offline database shipped in `geoip2fast` (no network lookups).

Loaded once per process (about a second) and only when a pass has sign-ins to place. An address the
database does not place (private, reserved, unknown) has no country: the rules that compare countries
skip it rather than guess.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any


@cache
def _database() -> Any:
    # The package's source has regex strings with invalid escapes (a SyntaxWarning when it is
    # first compiled, which a warnings-as-errors run would turn into an error): not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

        return GeoIP2Fast()


def country_of(ip: str | None) -> str:
    """ISO 3166 alpha-2 code, or "" when the address is not placed."""
    if not ip:
        return ""
    code = str(_database().lookup(str(ip)).country_code or "")
    return code if len(code) == 2 and code.isalpha() else ""
