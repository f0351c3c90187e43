"""The versioned HTTP API (Django Ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from steward.api import oneroster
from steward.api.problems import StewardParser, install_problem_handlers

api = NinjaAPI(
    title="Steward API",
    version="1",
    description="School data hosting, sharing by approval and provisioning. Errors are RFC 9457 problem+json.",
    urls_namespace="api-v1",
    parser=StewardParser(),
)
install_problem_handlers(api)
api.add_router("/ingest", "steward.api.ingest.router")
api.add_router("", "steward.api.sharing.router")

# OneRoster 1.2 (its own envelope and query grammar, so plain views): mounted at ONEROSTER_PREFIX.
ONEROSTER_PREFIX = "ims/oneroster/rostering/v1p2/"
oneroster_urls = oneroster.urlpatterns


class Health(Schema):
    status: str
    database: str


@api.get("/health", response=Health, auth=None, tags=["service"], summary="Service health")
def health(request: HttpRequest) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}
