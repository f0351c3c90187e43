"""steward-agent: the school-side client that pushes MIS export files to Steward.

It runs next to the MIS, not next to Steward, so it must not import Django or any other part
of `steward`: only the standard library and httpx. It lives in this package so that it is
released, versioned and tested together with the API it talks to.
"""

from __future__ import annotations

__all__ = ["VERSION"]

VERSION = "0.1.0"
