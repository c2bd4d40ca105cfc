"""The FastAGI client side, as Asterisk's ``AGI(agi://host:port/script,args)`` runs it.

Asterisk connects, sends the ``agi_*`` environment and a blank line, then answers
each command line with ``200 result=…`` (or ``510`` / multi-line ``520``). If the
caller hangs up meanwhile it sends one unsolicited ``HANGUP`` line. AGISTATUS is
SUCCESS when the server closes the socket, FAILURE when it cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from callcenter.sim.channels import UP, Channel

if TYPE_CHECKING:
    from callcenter.sim.pbx import Pbx

AGI_VERSION = "22.10.1"


def environment(pbx: Pbx, chan: Channel, url: str, args: list[str]) -> list[str]:
    script = urlsplit(url).path.lstrip("/")
    lines = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", url),
        ("agi_channel", chan.name),
        ("agi_language", "en"),
        ("agi_type", chan.tech),
        ("agi_uniqueid", chan.uniqueid),
        ("agi_version", AGI_VERSION),
        ("agi_callerid", chan.cid_num or "unknown"),
        ("agi_calleridname", chan.cid_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", chan.extra.get("dnid", "unknown")),
        ("agi_rdnis", "unknown"),
        ("agi_context", chan.context),
        ("agi_extension", chan.exten),
        ("agi_priority", str(chan.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", str(threading.get_ident())),
    ]
    lines += [(f"agi_arg_{i}", arg) for i, arg in enumerate(args, 1)]
    return [f"{key}: {value}" for key, value in lines]


async def run_agi(pbx: Pbx, chan: Channel, url: str, args: list[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme != "agi":
        return "FAILURE"
    try:
        async with asyncio.timeout(pbx.config.agi_connect_timeout):
            reader, writer = await asyncio.open_connection(
                parts.hostname or "127.0.0.1", parts.port or 4573
            )
    except (OSError, TimeoutError):
        return "FAILURE"
    pbx.stats["agi_sessions"] += 1
    hangup_sent = False
    try:
        writer.write(("\n".join(environment(pbx, chan, url, args)) + "\n\n").encode())
        await writer.drain()
        while True:
            line_task = asyncio.ensure_future(reader.readline())
            while True:
                chan.wake.clear()
                gone = asyncio.ensure_future(chan.wake.wait())
                done, _ = await asyncio.wait({line_task, gone}, return_when=asyncio.FIRST_COMPLETED)
                gone.cancel()
                if line_task in done:
                    break
                if (chan.hangup_pending or chan.hungup) and not hangup_sent and not chan.in_h:
                    hangup_sent = True
                    writer.write(b"HANGUP\n")
                    await writer.drain()
            raw = line_task.result()
            if not raw:
                break
            command = raw.decode("utf-8", "replace").strip()
            if not command:
                continue
            reply = await execute(pbx, chan, command)
            writer.write(reply.encode())
            await writer.drain()
            if (chan.hangup_pending or chan.hungup) and not hangup_sent and not chan.in_h:
                hangup_sent = True
                writer.write(b"HANGUP\n")
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return "HANGUP" if hangup_sent else "SUCCESS"


USAGE = {
    "SET VARIABLE": "Sets a variable to the current channel.",
    "GET VARIABLE": "Gets a channel variable.",
    "STREAM FILE": "Sends audio file on channel.",
    "EXEC": "Executes a given Application",
}


async def execute(pbx: Pbx, chan: Channel, command: str) -> str:
    """Run one AGI command line; AGIExecStart/End around it like res_agi."""
    command_id = str(pbx.rng.randint(10**8, 2**31 - 1))
    pbx.chan_event("AGIExecStart", chan, [("CommandId", command_id), ("Command", command)], "agi")
    code, result, text = await _run(pbx, chan, command)
    end_result = {200: "Success", 510: "Invalid or unknown command", 520: "Usage"}.get(
        code, "Failure"
    )
    pbx.chan_event(
        "AGIExecEnd",
        chan,
        [
            ("CommandId", command_id),
            ("Command", command),
            ("ResultCode", str(code)),
            ("Result", end_result),
        ],
        "agi",
    )
    if code == 510:
        return "510 Invalid or unknown command\n"
    if code == 520:
        return f"520-Invalid command syntax.  Proper usage follows:\n{text}\n520 End of proper usage.\n"
    return f"200 result={result}{(' ' + text) if text else ''}\n"


async def _run(pbx: Pbx, chan: Channel, command: str) -> tuple[int, str, str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    upper = [w.upper() for w in words]
    head2 = " ".join(upper[:2])
    if not words:
        return 510, "", ""
    if upper[0] == "NOOP":
        return 200, "0", ""
    if upper[0] == "VERBOSE":
        return 200, "1", ""
    if upper[0] == "ANSWER":
        pbx.answer(chan)
        return 200, "0", ""
    if head2 == "CHANNEL STATUS":
        return 200, str(chan.state if chan.state != UP else 6), ""
    if head2 == "SET VARIABLE":
        if len(words) < 4:
            return 520, "", USAGE["SET VARIABLE"]
        pbx.set_var(chan, words[2], words[3])
        return 200, "1", ""
    if head2 == "GET VARIABLE":
        if len(words) < 3:
            return 520, "", USAGE["GET VARIABLE"]
        name = words[2]
        value = pbx.lookup(chan)(name)
        known = (
            name in chan.vars
            or name in pbx.globals
            or name in ("UNIQUEID", "EXTEN", "CONTEXT", "CHANNEL")
            or (name.endswith(")") and value != "")  # a dialplan function that answered
        )
        return (200, "1", f"({value})") if known else (200, "0", "")
    if " ".join(upper[:3]) == "GET FULL VARIABLE":
        if len(words) < 4:
            return 520, "", "Evaluates a channel expression"
        return 200, "1", f"({pbx.substitute(chan, words[3])})"
    if upper[0] == "EXEC":
        if len(words) < 2:
            return 520, "", USAGE["EXEC"]
        return 200, "0", ""
    if head2 == "DATABASE PUT" and len(words) >= 5:
        pbx.astdb[(words[2], words[3])] = words[4]
        return 200, "1", ""
    if head2 == "DATABASE GET" and len(words) >= 4:
        stored = pbx.astdb.get((words[2], words[3]))
        return (200, "1", f"({stored})") if stored is not None else (200, "0", "")
    if head2 == "STREAM FILE":
        if len(words) < 3:
            return 520, "", USAGE["STREAM FILE"]
        seconds = pbx.sound_seconds(words[2])
        start = pbx.clock.monotonic()
        try:
            await pbx.pause(chan, seconds)
        except Exception:
            played = pbx.clock.monotonic() - start
            return 200, "-1", f"endpos={int(played * 8000)}"
        return 200, "0", f"endpos={int(seconds * 8000)}"
    if upper[0] == "HANGUP":
        pbx.request_hangup(chan, 16, soft=True)
        return 200, "1", ""
    return 510, "", ""
