"""The dialplan interpreter: runs a channel through ``extensions.conf`` step by step.

One coroutine per channel, like Asterisk's PBX thread: Newexten, the application,
the next priority, redirects and parking in between, then the ``h`` extension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from callcenter.sim import cdr
from callcenter.sim import dialplan as dp
from callcenter.sim.actions import parked
from callcenter.sim.apps import APP_NAMES, GOTO
from callcenter.sim.channels import Channel, ChannelHungUp, Redirected

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx


def lookup(pbx: Pbx, chan: Channel) -> Callable[[str], str]:
    def lookup(name: str) -> str:
        if name.startswith("CALLERID("):
            part = name[9:-1].lower()
            if part in ("num", "number"):
                return chan.cid_num
            if part == "name":
                return chan.cid_name
            if part == "all":
                return f'"{chan.cid_name}" <{chan.cid_num}>'
            return ""
        if name.startswith("CHANNEL("):
            part = name[8:-1].lower()
            return {
                "linkedid": chan.linkedid,
                "name": chan.name,
                "uniqueid": chan.uniqueid,
            }.get(part, "")
        if name.startswith("DB("):
            # func_db: read family/key from the AstDB; Asterisk also sets DB_RESULT.
            family, _, key = name[3:-1].partition("/")
            value = pbx.astdb.get((family, key), "")
            pbx.set_var(chan, "DB_RESULT", value)
            return value
        if "(" in name:
            raise dp.DialplanError(f"function {name} is not simulated")
        builtin = {
            "UNIQUEID": chan.uniqueid,
            "EXTEN": chan.exten,
            "CONTEXT": chan.context,
            "PRIORITY": str(chan.priority),
            "CHANNEL": chan.name,
            "EPOCH": str(int(pbx.clock.now().timestamp())),
        }
        if name in chan.vars:
            return chan.vars[name]
        if name in builtin:
            return builtin[name]
        return pbx.globals.get(name, "")

    return lookup


def substitute(pbx: Pbx, chan: Channel, text: str) -> str:
    return dp.substitute(text, lookup(pbx, chan))


async def run_pbx(pbx: Pbx, chan: Channel) -> None:
    """Run the channel through the dialplan until it hangs up (Asterisk's PBX thread)."""
    chan.running_pbx = True
    try:
        while not chan.hungup:
            if chan.redirect_to is not None:
                chan.context, chan.exten, chan.priority = chan.redirect_to
                chan.redirect_to = None
                if chan.extra.pop("go_on", False):
                    chan.priority += 1
            if chan.extra.get("parking") is not None:
                await parked(pbx, chan)
                continue
            if chan.hangup_pending:
                break
            ext = pbx.dialplan.locate(chan.context, chan.exten)
            step = ext.steps.get(chan.priority) if ext else None
            if step is None:
                break
            data = pbx.substitute(chan, step.data)
            chan.app, chan.appdata = APP_NAMES.get(step.app.lower(), step.app), data
            if chan.extra.pop("published_cep", None) != (chan.context, chan.exten, chan.priority):
                pbx.chan_event(
                    "Newexten",
                    chan,
                    [("Extension", chan.exten), ("Application", chan.app), ("AppData", data)],
                    "dialplan",
                )
            cdr.app_started(pbx, chan)
            app = pbx.apps.get(step.app.lower())
            if app is None:
                raise dp.DialplanError(f"application {step.app} is not simulated")
            try:
                result = await app(pbx, chan, data)
            except Redirected:
                continue
            except ChannelHungUp:
                break
            if chan.redirect_to is not None:
                continue
            if result != GOTO:
                chan.priority += 1
            if result == "hangup":
                break
        await _hangup_path(pbx, chan)
    finally:
        chan.running_pbx = False
        if not chan.hungup:
            pbx.destroy(chan)


async def _hangup_path(pbx: Pbx, chan: Channel) -> None:
    """Announce the hangup, then run the context's ``h`` extension (if any) to its end."""
    if chan.hungup:
        return
    if not chan.extra.get("soft_announced"):
        pbx.chan_event("SoftHangupRequest", chan, [("Cause", "16")])
        chan.extra["soft_announced"] = True
    ctx = pbx.dialplan.context(chan.context)
    ext = ctx.find("h") if ctx is not None else None
    if ext is None or chan.in_h:
        return
    chan.in_h = True
    chan.exten, chan.priority = "h", 1
    while True:
        step = ext.steps.get(chan.priority)
        if step is None:
            break
        data = pbx.substitute(chan, step.data)
        chan.app, chan.appdata = APP_NAMES.get(step.app.lower(), step.app), data
        pbx.chan_event(
            "Newexten",
            chan,
            [("Extension", chan.exten), ("Application", chan.app), ("AppData", data)],
            "dialplan",
        )
        app = pbx.apps.get(step.app.lower())
        if app is None:
            raise dp.DialplanError(f"application {step.app} is not simulated")
        try:
            # The step runs at its own priority (FastAGI's agi_priority in h is 1).
            result = await app(pbx, chan, data)
        except (ChannelHungUp, Redirected):
            result = None
        if result != GOTO:
            chan.priority += 1
        if result == "hangup":
            break
