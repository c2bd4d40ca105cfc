"""The softphone's routes: the current agent's SIP credentials and the JsSIP bundle.

The credentials answer is the only response that ever carries a SIP password, and it
is built from the logged-in user alone (no id in the path or query): no other user,
administrators included, can get it. It is never cached.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiohttp import web

from callcenter.core.ice import ice_servers
from callcenter.core.roles import Role
from callcenter.core.softphone import PhoneKind, browser_endpoint, browser_interface
from callcenter.db.models import User
from callcenter.registry import CLOCK, SESSIONMAKER, SETTINGS
from callcenter.softphone.schemas import CredentialsOut, IceServer
from callcenter.web.access import allow, current_user
from callcenter.web.openapi import describe
from callcenter.web.templating import ui_dir

routes = web.RouteTableDef()

PAGE_ROLES = (Role.AGENT, Role.SUPERVISOR)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def jssip_file(app: web.Application) -> Path:
    """JsSIP's browser bundle inside its npm package (``scripts/_setup.sh`` installs it)."""
    configured = app[SETTINGS].softphone.jssip_file
    if configured:
        return Path(configured)
    return ui_dir().parent / ".npm" / "node_modules" / "jssip" / "dist" / "jssip.min.js"


@routes.get("/api/softphone/credentials")
@allow(*PAGE_ROLES)
@describe(
    "My browser phone's SIP credentials (only mine; never cached)",
    tags=["softphone"],
    response=CredentialsOut,
)
async def credentials(request: web.Request) -> web.Response:
    me = current_user(request)
    assert me is not None  # the access middleware let only logged-in users through
    settings = request.app[SETTINGS].softphone
    async with request.app[SESSIONMAKER]() as session:
        user = await session.get(User, me.id)
    if (
        user is None
        or not user.active
        or user.phone_kind != PhoneKind.BROWSER
        or not user.sip_secret
    ):
        answer = CredentialsOut(enabled=False)
    else:
        answer = CredentialsOut(
            enabled=True,
            interface=browser_interface(user.id),
            username=browser_endpoint(user.id),
            password=user.sip_secret,
            display_name=user.full_name or user.username,
            ws_url=settings.ws_url,
            sip_domain=settings.sip_domain,
            ice_servers=[
                IceServer(**server)
                for server in ice_servers(
                    settings.stun_urls,
                    settings.turn_urls,
                    settings.turn_secret.get_secret_value(),
                    user=browser_endpoint(user.id),
                    expires_at=request.app[CLOCK].now()
                    + timedelta(seconds=settings.turn_ttl_seconds),
                )
            ],
        )
    return web.json_response(answer.model_dump(exclude_none=True), headers=NO_STORE)


@routes.get("/softphone/jssip.min.js")
@allow(*PAGE_ROLES)
async def jssip(request: web.Request) -> web.StreamResponse:
    path = jssip_file(request.app)
    if not path.is_file():
        return web.Response(
            status=503,
            text="// JsSIP is not installed: run scripts/demo or scripts/test (npm install)\n",
            content_type="application/javascript",
        )
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})
