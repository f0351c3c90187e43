"""Give every request an id, so audit events and logs of one request can be joined."""

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from steward.core.http import StewardRequest


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StewardRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-Id", "")
        request.request_id = supplied[:64] if _valid(supplied) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


def _valid(value: str) -> bool:
    return bool(value) and len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every response that does not say otherwise.

    Almost every page Steward serves is about a person (back office, portal, rights downloads,
    the recipients' API), so the safe default is that no browser history, shared computer or proxy
    keeps a copy. It sits below WhiteNoise, which answers static files (cacheable, hashed names)
    before this runs; a view that is public on purpose (the privacy notices) sets its own header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store, private"
            response["Pragma"] = "no-cache"  # HTTP/1.0 caches know only this
        return response
