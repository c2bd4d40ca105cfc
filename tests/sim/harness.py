"""Run a recorded scenario's AMI actions against the simulator and collect its events."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from pathlib import Path

from callcenter.clock import ScaledClock
from callcenter.sim.ami import AmiServer, AmiUser
from callcenter.sim.pbx import Pbx, PbxConfig
from tests.sim.agi_responder import Responder
from tests.sim.traces import REFERENCE, Block, agi_commands, read_trace

#: How long each prompt of the reference rig plays (seconds), measured from the
#: traces' Playback → PLAYBACKSTATUS timestamps. The simulator needs lengths, not audio.
RIG_SOUNDS = {
    "demo/agent-greeting": 6.85,
    "demo/caller-intro": 8.64,
    "demo/agent-closing": 4.41,
    "demo/truck-noise": 4.32,
    "demo/transfer-agent": 4.69,
    "silence/1": 1.0,
}

SCALE = 8.0


async def run_scenario(name: str, *, agi_up: bool = True, scale: float = SCALE) -> list[Block]:
    trace = read_trace(name)
    responder = Responder(agi_commands(name), default=["NOOP"])
    port = await responder.start()
    if not agi_up:
        await responder.close()
    clock = ScaledClock(scale)
    pbx = Pbx(
        PbxConfig(
            dialplan=REFERENCE / "rig-extensions.conf",
            queues=REFERENCE / "rig-queues.conf",
            globals={"AGI_URL": f"agi://127.0.0.1:{port}"},
            sounds=RIG_SOUNDS,
        ),
        clock,
    )
    ami = AmiServer(pbx, {"callcenter": AmiUser("callcenter", "refsecret")})
    ami_port = await ami.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
    events: list[Block] = []
    try:
        await reader.readline()
        reads = asyncio.ensure_future(_collect(reader, events))
        origin: float | None = None
        wall0 = 0.0
        for action, sent_at in zip(trace.actions, trace.sent_at, strict=True):
            name = action[0][1]
            if name == "Logoff":
                continue
            if name == "Originate" and origin is None:
                origin, wall0 = sent_at, asyncio.get_running_loop().time()
            elif origin is not None:
                # Send it at the same point of the call as the recorder did (scaled).
                due = wall0 + (sent_at - origin) / scale
                await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
                action = [(k, _map_channel(pbx, v) if k == "Channel" else v) for k, v in action]
            writer.write(("".join(f"{k}: {v}\r\n" for k, v in action) + "\r\n").encode())
            await writer.drain()
            if name == "Login":
                await asyncio.sleep(0.05)
        # Let the calls run to their end (all channels gone), on the scaled clock.
        await asyncio.sleep(0.2)
        for _ in range(120 * 20):
            if not pbx.channels:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        reads.cancel()
    finally:
        writer.close()
        await ami.close()
        await pbx.close()
        if agi_up:
            await responder.close()
    return events


def _map_channel(pbx: Pbx, real_name: str) -> str:
    """The simulator's live channel that plays the recorded one (same name, ids aside)."""
    wanted = channel_key(real_name)
    for chan in pbx.channels.values():
        if channel_key(chan.name) == wanted:
            return chan.name
    return real_name


async def _collect(reader: asyncio.StreamReader, events: list[Block]) -> None:
    block: Block = []
    while True:
        line = await reader.readline()
        if not line:
            return
        text = line.decode().rstrip("\r\n")
        if not text:
            if block and block[0][0] == "Event":
                events.append(block)
            block = []
            continue
        key, _, value = text.partition(": ")
        block.append((key, value))


# --------------------------------------------------------------------------- comparison


def channel_key(name: str) -> str:
    """Local/401@sim-agent-0000000d;1 → Local/401@sim-agent;1 (ids normalised)."""
    return re.sub(r"-[0-9a-f]{8}(;\d)?$", lambda m: m.group(1) or "", name)


def event_key(block: Block, key_headers: dict[str, tuple[str, ...]]) -> str:
    data = dict(block)
    name = data["Event"]
    parts = [name]
    for header in key_headers.get(name, ()):
        parts.append(f"{header}={data.get(header, '')}")
    return " ".join(parts)


def per_channel(
    events: list[Block], *, ignore: set[str], key_headers: dict[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for block in events:
        data = dict(block)
        if data["Event"] in ignore:
            continue
        if data["Event"] == "VarSet" and f"VarSet {data.get('Variable')}" in ignore:
            continue
        chan = data.get("Channel") or data.get("DestChannel")
        if not chan:
            continue
        out[channel_key(chan)].append(event_key(block, key_headers))
    return dict(out)


def names(events: list[Block]) -> Counter[str]:
    return Counter(dict(b)["Event"] for b in events)


def dump(path: Path, events: list[Block]) -> None:
    path.write_text("\n\n".join("\n".join(f"{k}: {v}" for k, v in b) for b in events))


async def run_sip_call(scale: float = SCALE) -> list[Block]:
    """Scenario h: a SIP caller (endpoint sipp) dials 100; FastAGI routes to PJSIP/agent1,
    which answers at once; the caller sends BYE 7.5 s after the bridge (8 s after answer)."""
    from callcenter.sim.phones import PhoneBehaviour

    responder = Responder(agi_commands("h-pjsip-sipp-call"), default=["NOOP"])
    port = await responder.start()
    pbx = Pbx(
        PbxConfig(
            dialplan=REFERENCE / "rig-extensions.conf",
            queues=REFERENCE / "rig-queues.conf",
            globals={"AGI_URL": f"agi://127.0.0.1:{port}"},
            sounds=RIG_SOUNDS,
            phones={
                "agent1": PhoneBehaviour(
                    "agent1", answer_delay=0.0, talk_seconds=None, context="from-sip"
                )
            },
        ),
        ScaledClock(scale),
    )
    events: list[Block] = []
    pbx.listeners.append(events.append)
    try:
        await pbx.place_call(
            "100", "sipp", "sipp", context="from-sip", trunk="sipp", talk_seconds=7.5
        )
        await asyncio.sleep(0.1)
        await asyncio.wait_for(pbx.idle.wait(), 60)
    finally:
        await pbx.close()
        await responder.close()
    return events
