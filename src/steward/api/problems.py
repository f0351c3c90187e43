"""RFC 9457 problem+json for every API error, with a JSON pointer to the offending field."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from steward.ingest.records import UNSTORABLE

PROBLEM_TYPE = "https://steward.invalid/problems/"


def problem(
    request: HttpRequest,
    *,
    status: int,
    title: str,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    kind: str = "error",
    api: NinjaAPI,
) -> HttpResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + kind, "title": title, "status": status, "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def install_problem_handlers(api: NinjaAPI) -> None:
    def validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in err.get("loc", ())), "detail": err.get("msg", "")}
            for err in exc.errors
        ]
        return problem(request, status=422, title="The request is not valid", errors=errors, kind="validation", api=api)

    def auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(request, status=401, title="Authentication required", kind="unauthorised", api=api)

    def http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, UnstorableText):  # Ninja wraps what the parser raises as a 400
            errors = [{"pointer": exc.__cause__.pointer, "detail": UnstorableText.detail}]
            title = "The request body holds text that cannot be stored"
            return problem(request, status=422, title=title, errors=errors, kind="validation", api=api)
        return problem(request, status=exc.status_code, title=str(exc), kind=f"http-{exc.status_code}", api=api)

    def not_json(request: HttpRequest, exc: RawPostDataException) -> HttpResponse:
        # A form body (multipart or urlencoded) is read as a form before the JSON body is parsed:
        # an endpoint that takes JSON answers that it wants JSON instead of failing with a 500.
        return problem(
            request,
            status=415,
            title="The body must be JSON",
            detail=f"send Content-Type: application/json, not {request.content_type or 'nothing'}",
            kind="unsupported-media-type",
            api=api,
        )

    api.add_exception_handler(ValidationError, validation)  # type: ignore[arg-type]
    api.add_exception_handler(RawPostDataException, not_json)  # type: ignore[arg-type]
    api.add_exception_handler(AuthenticationError, auth)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, http)  # type: ignore[arg-type]


class Problem(Schema):
    """RFC 9457 problem details, as every documented error response of the API carries them."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def problem_status(request: HttpRequest, status: int, title: str, detail: str = "") -> Status[Any]:
    """An error answer for an endpoint that declares `Problem` for this status."""
    return Status(
        status,
        Problem(
            type=f"{PROBLEM_TYPE}http-{status}",
            title=title,
            status=status,
            detail=detail or None,
            instance=request.path,
        ),
    )


class UnstorableText(ValueError):
    """A JSON body string PostgreSQL text cannot hold (a NUL, or a lone surrogate with no UTF-8)."""

    detail = "contains a NUL character (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff)"

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


class StewardParser(Parser):
    """Ninja's JSON parser, refusing text that would fail in the database as a server error."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        pointer = _unstorable_pointer(data)
        if pointer is not None:
            raise UnstorableText(pointer)
        return data


def _unstorable_pointer(data: Any) -> str | None:
    """The JSON pointer of the first key or string holding unstorable text; iterative, as a body
    may nest as deep as the decoder allows."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                return pointer or "/"
        elif isinstance(value, dict):
            for key, item in value.items():
                if UNSTORABLE.search(key):
                    return pointer or "/"
                stack.append((f"{pointer}/{key}", item))
        elif isinstance(value, list):
            stack += [(f"{pointer}/{index}", item) for index, item in enumerate(value)]
    return None
