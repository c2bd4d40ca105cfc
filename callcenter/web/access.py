"""Access by role: every route declares who may use it; undeclared routes are refused.

Handlers are wrapped with :func:`allow` (a set of roles) or :func:`public`. The
middleware answers 401 to anonymous users on protected routes and 403 to a
logged-in user whose role is not allowed. The login/session adapter puts the
current user on ``request[CURRENT_USER]``; until it does, everyone is anonymous.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from callcenter.core.roles import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACCESS_ATTR = "__callcenter_roles__"


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: Role
    department_id: int | None = None
    language: str = "vi"
    full_name: str = ""
    is_department_head: bool = False


CURRENT_USER = web.RequestKey("current_user", CurrentUser)


def allow(*roles: Role) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        setattr(handler, ACCESS_ATTR, frozenset(roles))
        return handler

    return mark


def public(handler: Handler) -> Handler:
    setattr(handler, ACCESS_ATTR, None)
    return handler


def declared_roles(handler: Any) -> frozenset[Role] | None:
    """The roles a handler allows (None = public). Raises if it declares nothing."""
    target = getattr(handler, "__wrapped__", handler)
    for candidate in (handler, target):
        if hasattr(candidate, ACCESS_ATTR):
            roles: frozenset[Role] | None = getattr(candidate, ACCESS_ATTR)
            return roles
    raise LookupError(f"route handler {handler!r} declares no access")


def undeclared_routes(app: web.Application) -> Iterable[str]:
    for route in app.router.routes():
        handler = route.handler
        if route.method == "HEAD" or getattr(route.resource, "canonical", "").startswith("/static"):
            continue
        try:
            declared_roles(handler)
        except LookupError:
            yield f"{route.method} {route.resource.canonical if route.resource else '?'}"


def current_user(request: web.Request) -> CurrentUser | None:
    user: CurrentUser | None = request.get(CURRENT_USER)
    return user


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match_info = request.match_info
    route_handler = match_info.route.handler if match_info.route is not None else handler
    if match_info.http_exception is not None:
        raise match_info.http_exception
    resource = match_info.route.resource
    if resource is not None and resource.canonical.startswith("/static"):
        return await handler(request)
    try:
        roles = declared_roles(route_handler)
    except LookupError:
        raise web.HTTPForbidden(text="route declares no access") from None
    if roles is None:
        return await handler(request)
    user = current_user(request)
    if user is None:
        if (
            request.path.startswith("/api/")
            or request.headers.get("Upgrade", "").lower() == "websocket"
        ):
            raise web.HTTPUnauthorized(text="login required")
        raise web.HTTPFound(location=f"/login?next={quote(request.path_qs, safe='/')}")
    if user.role not in roles:
        raise web.HTTPForbidden(text="your role may not use this page")
    return await handler(request)
