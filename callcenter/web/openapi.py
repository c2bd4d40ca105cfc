"""OpenAPI 3.1 description of the JSON API, generated from the real routes.

Each ``/api/`` handler says what it does with :func:`describe`, next to its
``@allow(...)``::

    @routes.post("/api/tickets/{id}/notes")
    @allow(Role.AGENT, Role.SUPERVISOR)
    @describe("Add a note to a ticket", tags=["tickets"], request=NoteIn, response=NoteOut)
    async def add_note(request: web.Request) -> web.Response: ...

``request``/``response`` are pydantic models or plain JSON Schema dicts. The
document (:func:`build_document`) walks ``app.router``: paths, methods, path
parameters and the roles that may call each operation come from the routes
themselves, so the description cannot list a route that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from callcenter.auth.csrf import HEADER as CSRF_HEADER
from callcenter.auth.csrf import needs_token
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.web.access import declared_roles

Schema = type[BaseModel] | Mapping[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

OPENAPI_ATTR = "__callcenter_openapi__"
API_PREFIX = "/api/"


@dataclass(frozen=True)
class Operation:
    """What a handler tells the API description about itself."""

    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    request: Schema | None = None
    response: Schema | None = None
    status: int = 200
    errors: Mapping[int, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    deprecated: bool = False


def describe(
    summary: str,
    *,
    description: str = "",
    tags: Iterable[str] = (),
    request: Schema | None = None,
    response: Schema | None = None,
    status: int = 200,
    errors: Mapping[int, str] | None = None,
    query: Mapping[str, str] | None = None,
    deprecated: bool = False,
) -> Callable[[F], F]:
    """Describe an ``/api/`` handler: summary, JSON bodies, success status, errors, query params.

    ``errors`` maps extra statuses to what they mean (``{404: "no such ticket"}``);
    401/403 (and the CSRF 403) are added from the route's access declaration.
    ``query`` maps query parameter names to their descriptions.
    """
    operation = Operation(
        summary=summary,
        description=description,
        tags=tuple(tags),
        request=request,
        response=response,
        status=status,
        errors=dict(errors or {}),
        query=dict(query or {}),
        deprecated=deprecated,
    )

    def mark(handler: F) -> F:
        setattr(handler, OPENAPI_ATTR, operation)
        return handler

    return mark


def operation_of(handler: Any) -> Operation | None:
    for candidate in (handler, getattr(handler, "__wrapped__", None)):
        operation = getattr(candidate, OPENAPI_ATTR, None)
        if isinstance(operation, Operation):
            return operation
    return None


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Any
    path_params: dict[str, str]  # name -> JSON Schema type


_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*(?:\([^()]*\)[^()]*)*)\)")


def _path_params(resource: web.AbstractResource) -> dict[str, str]:
    info = resource.get_info()
    pattern = info.get("pattern")
    formatter = str(info.get("formatter", resource.canonical))
    names = re.findall(r"\{(\w+)\}", formatter)
    types = dict.fromkeys(names, "string")
    if pattern is not None:
        for name, regex in _GROUP.findall(pattern.pattern):
            if regex in (r"\d+", "[0-9]+"):
                types[name] = "integer"
    return types


def api_routes(app: web.Application) -> list[ApiRoute]:
    """Every ``/api/`` route of the app (HEAD excluded), in registration order."""
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue
        if not resource.canonical.startswith(API_PREFIX):
            continue
        found.append(
            ApiRoute(route.method, resource.canonical, route.handler, _path_params(resource))
        )
    return found


class _Components:
    """Collects pydantic model schemas under ``components/schemas``."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema(self, value: Schema) -> dict[str, Any]:
        if isinstance(value, type) and issubclass(value, BaseModel):
            generated = value.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in generated.pop("$defs", {}).items():
                self.schemas[name] = definition
            self.schemas[value.__name__] = generated
            return {"$ref": f"#/components/schemas/{value.__name__}"}
        return dict(value)


def _operation_object(
    route: ApiRoute, operation: Operation, components: _Components
) -> dict[str, Any]:
    roles = declared_roles(route.handler)
    result: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{route.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', route.path).strip('_')}",
        "tags": list(operation.tags),
        "x-roles": "public" if roles is None else sorted(role.value for role in roles),
    }
    if operation.description:
        result["description"] = operation.description
    if operation.deprecated:
        result["deprecated"] = True
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
        for name, kind in route.path_params.items()
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in operation.query.items()
    ]
    if needs_token(route.method):
        parameters.append(
            {
                "name": CSRF_HEADER,
                "in": "header",
                "required": True,
                "description": "The session's CSRF token (see the csrf-token meta tag of any page).",
                "schema": {"type": "string"},
            }
        )
    if parameters:
        result["parameters"] = parameters
    if operation.request is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": components.schema(operation.request)}},
        }
    success: dict[str, Any] = {"description": operation.summary}
    if operation.response is not None:
        success["content"] = {"application/json": {"schema": components.schema(operation.response)}}
    responses: dict[str, Any] = {str(operation.status): success}
    error_schema = {"$ref": "#/components/schemas/Error"}
    errors = dict(operation.errors)
    if roles is not None:
        errors.setdefault(401, "Not logged in.")
        errors.setdefault(403, "Role not allowed, or missing/invalid CSRF token.")
    elif needs_token(route.method):
        errors.setdefault(403, "Missing or invalid CSRF token.")
    for status, text in sorted(errors.items()):
        responses[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": error_schema}},
        }
    result["responses"] = responses
    if roles is not None:
        result["security"] = [{"sessionCookie": []}]
    return result


def build_document(
    app: web.Application, *, title: str = "callcenter API", version: str = "0"
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every DESCRIBED ``/api/`` route of ``app``."""
    components = _Components()
    components.schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string", "description": "What went wrong, translated."}},
        "required": ["error"],
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes(app):
        operation = operation_of(route.handler)
        if operation is None:
            continue
        paths.setdefault(route.path, {})[route.method.lower()] = _operation_object(
            route, operation, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "JSON API of the contact-center server. Log in through /login; "
            "send the session cookie, and the X-CSRF-Token header on every change.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME}
            },
        },
    }


def undescribed_routes(app: web.Application) -> list[str]:
    """``METHOD /api/path`` of every API route without :func:`describe` (should be none)."""
    return [f"{r.method} {r.path}" for r in api_routes(app) if operation_of(r.handler) is None]
