"""Keep Asterisk's generated config in step with the console (``asterisk.sync_on_change``).

After an admin change to what the generated files say (hotlines, departments,
users and their phones) the daemon runs the same sync as ``callcenter asterisk
sync``, through its own AMI link. Changes are coalesced: a burst of edits runs
one sync after the last of them, never two at once. A failure is logged; the
console change itself is already committed and the ACD already uses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import tasks as background
from callcenter.ami.plugin import AMI_LINK
from callcenter.core.events import ConfigChanged
from callcenter.plugins import Plugin
from callcenter.provision.sync import sync
from callcenter.registry import BUS, SESSIONMAKER, SETTINGS

log = logging.getLogger(__name__)

#: ``config_changed`` areas whose rows the generated files are made of.
SYNC_AREAS = frozenset({"hotlines", "departments", "users"})
SETTLE_SECONDS = 0.5


def setup(app: web.Application) -> None:
    if not app[SETTINGS].asterisk.sync_on_change:
        return

    async def sync_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        wake = asyncio.Event()

        def on_change(event: ConfigChanged) -> None:
            if event.area in SYNC_AREAS:
                wake.set()

        async def worker() -> None:
            while True:
                await wake.wait()
                await asyncio.sleep(SETTLE_SECONDS)  # one sync for a burst of edits
                wake.clear()
                link = app.get(AMI_LINK)
                send = link.send_action if link is not None and link.connected else None
                try:
                    async with app[SESSIONMAKER]() as session:
                        result = await sync(session, settings.asterisk.config_dir, send)
                except Exception:
                    log.exception("asterisk sync after a console change failed")
                    continue
                if result.changed:
                    log.info(
                        "asterisk sync: wrote %s, reloaded %s",
                        ", ".join(result.changed),
                        ", ".join(result.reloaded) or "nothing (AMI link down)",
                    )

        unsubscribe = app[BUS].subscribe(ConfigChanged, on_change)
        task = asyncio.create_task(worker(), name="asterisk-sync")
        yield
        unsubscribe()
        await background.stop(task)

    app.cleanup_ctx.append(sync_ctx)


PLUGIN = Plugin("asterisk-sync", setup, requires=("ami",))
