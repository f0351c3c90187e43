"""The API's request type: what the API's client-credentials check adds to a `StewardRequest`."""

from __future__ import annotations

from steward.core.http import StewardRequest
from steward.tenancy.models import ApiClient


class ApiRequest(StewardRequest):
    """A request Django Ninja authenticated with a client's bearer token (`api.auth`): `auth` is
    what the check returned, the client, which the check also keeps as `api_client`."""

    auth: ApiClient
    api_client: ApiClient
