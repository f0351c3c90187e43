"""An OpenAPI 3.1 description of the OneRoster endpoints Steward serves, assembled from the JSON
schemas written down from the specification (`schemas/`), for schemathesis to generate requests
from: the paths come from the URL patterns, so an endpoint added without a schema fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.urls import URLPattern

from steward.api import oneroster

SCHEMAS = Path(__file__).parent / "schemas"
QUERY = ("limit", "offset", "sort", "orderBy", "filter", "fields")


def _component(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kind's response schema and its definitions, with references moved under components."""
    text = (SCHEMAS / f"{kind}.json").read_text()
    text = text.replace('"#/$defs/record"', f'"#/components/schemas/{kind}Record"')
    text = text.replace('"#/$defs/', '"#/components/schemas/')
    schema = json.loads(text)
    definitions = schema.pop("$defs")
    definitions[f"{kind}Record"] = definitions.pop("record")
    schema.pop("$schema", None)
    return schema, definitions


def _operation(pattern: URLPattern, kinds: dict[str, str]) -> tuple[str, dict[str, Any]]:
    route = str(pattern.pattern).replace("<str:sourced_id>", "{sourced_id}")
    name = str(pattern.name)
    kind = kinds[name]
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "query", "required": False, "schema": {"type": "string"}} for p in QUERY
    ]
    if "{sourced_id}" in route:
        parameters.append({"name": "sourced_id", "in": "path", "required": True, "schema": {"type": "string"}})
    imsx = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/imsx_StatusInfo"}}}}
    operation = {
        "operationId": name,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "records",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{kind}"}}},
            },
            **{str(s): {"description": "refused", **imsx} for s in (400, 401, 403, 404)},
        },
    }
    return f"/{oneroster.BASE.strip('/')}/{route}", {"get": operation}


def document() -> dict[str, Any]:
    by_name = {str(p.name): oneroster.KIND_OF[str(p.name)] for p in oneroster.urlpatterns}
    components: dict[str, Any] = {}
    for kind in set(by_name.values()):
        schema, definitions = _component(kind)
        components[kind] = schema
        components.update(definitions)
    imsx = json.loads((SCHEMAS / "imsx_StatusInfo.json").read_text())
    imsx.pop("$schema", None)
    components["imsx_StatusInfo"] = imsx
    paths = dict(_operation(p, by_name) for p in oneroster.urlpatterns)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Steward OneRoster 1.2 rostering", "version": "1.2"},
        "paths": paths,
        "components": {"schemas": components},
    }
