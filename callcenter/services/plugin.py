"""Run the ACD service while the daemon serves; it answers the FastAGI routes.

``setup(app)`` builds the service and registers its routes on the FastAGI
server (``callcenter.agi.plugin`` must be set up first); the context loads the
configuration, restores agents and waiting callers, and stops cleanly.
AMI actions (Redirect/Setvar/QueuePause/CoreShowChannels) go through
``app[CALL_CONTROL]`` when set, else through the AMI link (``ami.plugin``, set
up before this plugin); without either the service still routes new calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.agi.plugin import AGI_SERVER
from callcenter.ami.plugin import AMI_LINK, CALL_RECORDER, CALL_TRACKER
from callcenter.services.acd import AcdService, CallControl
from callcenter.services.ami_control import AmiCallControl
from callcenter.web.keys import BUS, CLOCK, SESSIONMAKER, SETTINGS

ACD_SERVICE = web.AppKey("acd_service", AcdService)
CALL_CONTROL = web.AppKey("call_control", CallControl)  # type: ignore[type-abstract]


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    service = AcdService(
        clock=app[CLOCK], bus=app[BUS], sessions=app[SESSIONMAKER], settings_zone=settings.tz
    )
    app[ACD_SERVICE] = service
    if AGI_SERVER in app:
        service.register_routes(app[AGI_SERVER], settings.agi.route_deadline_seconds)

    async def acd_ctx(app: web.Application) -> AsyncIterator[None]:
        control = app.get(CALL_CONTROL)
        if control is None and AMI_LINK in app:
            control = AmiCallControl(app[AMI_LINK])
        service.control = control
        if CALL_TRACKER in app:  # FastAGI names a channel, AMI the call: the tracker links them
            service.linkedid_of = app[CALL_TRACKER].linkedid_of
        if CALL_RECORDER in app:  # calls are credited to who sat at the phone, not its owner
            app[CALL_RECORDER].phones_in_use = service.phones_in_use
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(acd_ctx)
