"""The API's documentation: the OpenAPI document, with what depends on the deployment, and Swagger UI at /docs.

Swagger UI's assets come from the pinned fastapi-offline package and are served by the API itself (no third-party
CDN: a documentation page must not run code from elsewhere with the operator's token in it); the page's own script
is a file too, so the pages' Content-Security-Policy needs no inline script. SCHEDULER_API_DOCS=false serves
neither /docs nor /openapi.json (FastAPI serves the latter: `docs_options`). Links are relative, so the pages also
work behind a gateway's path prefix."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from scheduler_core.settings import Settings

ASSETS: Final = Path(str(importlib.resources.files("fastapi_offline") / "static"))
PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the document to a public validator.
INIT_SCRIPT: Final = """window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


OPENAPI_URL: Final = "/openapi.json"


def docs_options(settings: Settings) -> dict[str, Any]:
    """FastAPI's arguments for its documentation: /openapi.json when SCHEDULER_API_DOCS is on, and none of its
    own pages (they load Swagger UI and ReDoc from a CDN; `install_docs` serves /docs)."""
    return {"openapi_url": OPENAPI_URL if settings.api_docs else None, "docs_url": None, "redoc_url": None}


def install_docs(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document with the deployment's limits and, when SCHEDULER_API_DOCS is on, the pages."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_deployment_limits(generate(), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
    if not settings.api_docs:
        return

    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=f"{app.title} - docs"))

    async def init_script() -> Response:
        return Response(INIT_SCRIPT, media_type="text/javascript")

    app.add_api_route("/docs", page, include_in_schema=False)
    app.add_api_route("/docs/init.js", init_script, include_in_schema=False)
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")


def _with_deployment_limits(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What the models cannot say because it depends on the settings: the highest priority the broker honours
    (SCHEDULER_MAX_PRIORITY), and the 413 every operation with a body can answer."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("ScheduledJobCreate", "ScheduledJobUpdate"):
        priority = schemas.get(name, {}).get("properties", {}).get("priority")
        if priority is not None:
            _set_maximum(priority, settings.max_priority)
    too_large = {
        "description": "The request body is larger than the API reads (SCHEDULER_MAX_REQUEST_BODY_BYTES).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", too_large)
    return document


def _set_maximum(schema: dict[str, Any], maximum: int) -> None:
    if schema.get("type") == "integer":
        schema["maximum"] = min(maximum, schema.get("maximum", maximum))
    for variant in schema.get("anyOf", ()):
        _set_maximum(variant, maximum)
