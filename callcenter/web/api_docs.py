"""Serves the API description: ``/api/openapi.json``, built from the live routes.

Any logged-in user may read it (the document lists, per operation, the roles
that may call it). It is built on each request, so routes added by plugins
after this module's set-up are described too.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from callcenter import __version__
from callcenter.core.roles import ALL_ROLES
from callcenter.web.access import allow
from callcenter.web.openapi import build_document, describe

routes = web.RouteTableDef()


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (see https://spec.openapis.org/oas/v3.1.0)."""

    openapi: str
    info: dict[str, object]
    paths: dict[str, object]
    components: dict[str, object]


@routes.get("/api/openapi.json", name="openapi")
@allow(*ALL_ROLES)
@describe("This API description (OpenAPI 3.1)", tags=["meta"], response=OpenApiDocument)
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app, version=__version__))


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
