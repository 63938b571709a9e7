"""The pages luna serves: GET / (the web console, plain files in luna/http/static/console),
GET /api/v1/openapi.json (the OpenAPI document) and GET /docs (Swagger UI, served from the files
the `swagger-ui-py` package ships, so the page works with no internet)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from luna.http import openapi

STATIC = Path(__file__).resolve().parents[1] / "static"


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's built files inside the installed `swagger-ui-py` package
    (found without importing it: only its static files are used)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it serves /docs")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def openapi_document() -> Handler:
    """The handler of GET /api/v1/openapi.json; it builds the document on first use, when
    every route is registered, and keeps it."""
    built: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        if not built:
            built.append(orjson.dumps(openapi.document(request.app)))
        return web.Response(
            body=built[0], content_type="application/json", headers={"Cache-Control": "no-cache"}
        )

    return handler


async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "docs" / "index.html")


async def console_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "console" / "index.html", headers={"Cache-Control": "no-cache"}
    )
