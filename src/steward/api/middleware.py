"""Refuse an upload that is too large from its Content-Length, before reading a byte of it."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from steward.api.problems import PROBLEM_TYPE

UPLOAD_PATHS = ("/api/v1/ingest/",)


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path.startswith(UPLOAD_PATHS):
            length = request.META.get("CONTENT_LENGTH") or "0"
            limit = settings.INGEST_MAX_UPLOAD_BYTES
            if length.isdigit() and int(length) > limit:
                body = {
                    "type": f"{PROBLEM_TYPE}batch-rejected-413",
                    "title": "The batch was not applied; nothing was changed",
                    "status": 413,
                    "detail": f"the upload is {length} bytes; the limit is {limit}",
                    "instance": request.path,
                    "errors": [
                        {
                            "record_type": "file",
                            "ref": "request",
                            "source_id": None,
                            "field": "file",
                            "reason": f"is {length} bytes; the limit is {limit}",
                        }
                    ],
                }
                return HttpResponse(json.dumps(body), status=413, content_type="application/problem+json")
        return self.get_response(request)
