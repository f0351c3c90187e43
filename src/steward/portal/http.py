"""The portal's request type: what `portal.auth.parent_required` adds to a `StewardRequest`."""

from __future__ import annotations

from steward.core.http import StewardRequest
from steward.portal.models import ParentAccount


class ParentRequest(StewardRequest):
    """A request `parent_required` let through: `parent` is the signed-in, open account."""

    parent: ParentAccount
