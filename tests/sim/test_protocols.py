"""AMI and FastAGI wire behaviour of the simulator, checked against the real traces."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.clock import ScaledClock
from callcenter.sim.ami import AmiServer, AmiUser
from callcenter.sim.pbx import Pbx, PbxConfig
from tests.sim.agi_responder import Responder
from tests.sim.harness import RIG_SOUNDS, run_scenario
from tests.sim.traces import REFERENCE, agi_commands, read_trace


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, **headers: str) -> None:
        self.writer.write(("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
        await self.writer.drain()

    async def block(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 5)
            if not line:
                return out
            text = line.decode().rstrip("\r\n")
            if not text:
                if out:
                    return out
                continue
            key, _, value = text.partition(": ")
            out.append((key, value))

    async def until(self, predicate: object) -> list[list[tuple[str, str]]]:
        seen = []
        while True:
            block = await self.block()
            assert block, "connection closed"
            seen.append(block)
            if predicate(dict(block)):  # type: ignore[operator]
                return seen


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Pbx, int]]:
    pbx = Pbx(
        PbxConfig(
            dialplan=REFERENCE / "rig-extensions.conf",
            queues=REFERENCE / "rig-queues.conf",
            globals={"AGI_URL": "agi://127.0.0.1:1"},
            sounds=RIG_SOUNDS,
        ),
        ScaledClock(10.0),
    )
    server = AmiServer(pbx, {"callcenter": AmiUser("callcenter", "refsecret")})
    port = await server.start()
    yield pbx, port
    await server.close()
    await pbx.close()


async def connect(port: int) -> Client:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return Client(reader, writer)


async def test_banner_login_and_failures(rig: tuple[Pbx, int]) -> None:
    _, port = rig
    client = await connect(port)
    assert await client.reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
    await client.send(Action="Ping", ActionID="p1")
    assert await client.block() == [
        ("Response", "Error"),
        ("ActionID", "p1"),
        ("Message", "Permission denied"),
    ]
    started = time.monotonic()
    await client.send(Action="Login", ActionID="l1", Username="callcenter", Secret="wrong")
    reply = await client.block()
    assert time.monotonic() - started >= 0.9  # Asterisk answers a bad login after ~1 s
    assert reply == [
        ("Response", "Error"),
        ("ActionID", "l1"),
        ("Message", "Authentication failed"),
    ]
    assert await client.reader.read() == b""  # ...and closes the socket

    client = await connect(port)
    await client.reader.readline()
    await client.send(
        Action="Login", ActionID="l2", Username="callcenter", Secret="refsecret", Events="on"
    )
    assert await client.block() == [
        ("Response", "Success"),
        ("ActionID", "l2"),
        ("Message", "Authentication accepted"),
    ]
    booted = dict(await client.block())
    assert booted["Event"] == "FullyBooted" and "Timestamp" not in booted
    await client.send(Action="Ping", ActionID="p2")
    pong = await client.block()
    assert [k for k, _ in pong] == ["Response", "ActionID", "Ping", "Timestamp"]
    await client.send(Action="NoSuchAction", ActionID="x")
    assert dict(await client.block())["Message"].startswith(
        "Invalid/unknown command: NoSuchAction."
    )
    await client.send(Action="Logoff", ActionID="bye")
    assert dict(await client.block())["Response"] == "Goodbye"


def _shapes(blocks: list[list[tuple[str, str]]]) -> dict[str, list[str]]:
    shapes: dict[str, list[str]] = {}
    for block in blocks:
        data = dict(block)
        name = data.get("Event") or "Response"
        shapes.setdefault(name, [k for k, _ in block if k != "Variable"])
    return shapes


async def test_list_replies_have_the_real_shape(rig: tuple[Pbx, int]) -> None:
    """CoreShowChannels / Status / QueueStatus items: same headers, same order as Asterisk."""
    pbx, port = rig
    client = await connect(port)
    await client.reader.readline()
    await client.send(Action="Login", Username="callcenter", Secret="refsecret", Events="off")
    await client.block()
    await client.block()
    await client.send(
        Action="Originate",
        ActionID="o1",
        Channel="Local/101@hotline-queue",
        Context="sim-caller",
        Exten="s",
        Priority="1",
        CallerID='"Waiting Caller" <+15551230011>',
        Async="true",
        Variable="SIM_CALLER_DELAY=0,SIM_CALLER_HOLD=60,QUEUE_NAME=hotline-q-ring",
    )
    await client.block()
    for _ in range(100):
        if any(c.app == "Queue" for c in pbx.channels.values()):
            break
        await asyncio.sleep(0.02)
    real = read_trace("f-queries-live")
    real_items = [b for b in real.events if dict(b).get("ActionID", "").startswith("ref-")]
    real_shapes = _shapes(real_items)
    ours: list[list[tuple[str, str]]] = []
    for action, done in (
        ("CoreShowChannels", "CoreShowChannelsComplete"),
        ("Status", "StatusComplete"),
        ("QueueStatus", "QueueStatusComplete"),
    ):
        await client.send(Action=action, ActionID=f"q-{action}")
        ours += await client.until(lambda d, done=done: d.get("Event") == done)
    shapes = _shapes(ours)
    for name in (
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "Status",
        "StatusComplete",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
    ):
        assert shapes.get(name) == real_shapes[name], name
    await client.send(Action="Hangup", ActionID="h", Channel="/^Local\\/101@hotline-queue-.*;2$/")
    hung = await client.until(lambda d: d.get("Event") == "ChannelsHungupListComplete")
    assert [dict(b).get("Event") for b in hung[1:]] == [
        "ChannelHungup",
        "ChannelsHungupListComplete",
    ]


async def test_fastagi_protocol_edge_cases_match_the_transcript() -> None:
    """Scenario i: 510, multi-line 520, EXEC, DATABASE, STREAM FILE cut by the caller's
    hangup and the unsolicited HANGUP line, exactly as Asterisk answered them."""
    responder = Responder(agi_commands("i-fastagi-protocol"))
    port = await responder.start()
    clock = ScaledClock(10.0)
    pbx = Pbx(
        PbxConfig(
            dialplan=REFERENCE / "rig-extensions.conf",
            queues=REFERENCE / "rig-queues.conf",
            globals={"AGI_URL": f"agi://127.0.0.1:{port}"},
            sounds=RIG_SOUNDS,
        ),
        clock,
    )
    events: list[list[tuple[str, str]]] = []
    pbx.listeners.append(events.append)
    await pbx.originate(
        "Local/100@hotline",
        context="sim-caller",
        exten="s",
        callerid='"Customer I" <+15551230013>',
        variables={
            "SIM_CALLER_DELAY": "0.5",
            "SIM_CALLER_PROMPT": "demo/truck-noise",
            "SIM_CALLER_HOLD": "0",
        },
    )
    for _ in range(200):
        if responder.sessions and not pbx.channels:
            break
        await asyncio.sleep(0.05)
    await pbx.close()
    await responder.close()
    session = responder.sessions[0]
    transcript = (REFERENCE / "i-fastagi-protocol.agi.txt").read_text().splitlines()
    received = [re.sub(r"^\S+ << ", "", line) for line in transcript if " << " in line]
    env_end = received.index("")
    real_env = [line.split(": ", 1)[0] for line in received[:env_end]]
    assert list(session.env) == real_env
    assert session.env["agi_network_script"] == "route" and session.env["agi_version"] == "22.10.1"

    def norm(lines: list[str]) -> list[str]:
        return [
            re.sub(r"endpos=\d+", "endpos=N", re.sub(r"\(1\d+\.\d+\)", "(ID)", line))
            for line in lines
        ]

    assert norm(session.replies) == norm(received[env_end + 1 :])
    agistatus = [dict(e)["Value"] for e in events if dict(e).get("Variable") == "AGISTATUS"]
    assert agistatus == ["HANGUP"]


async def test_fastagi_down_gives_agistatus_failure() -> None:
    events = await run_scenario("g-fastagi-down", agi_up=False)
    statuses = [dict(e)["Value"] for e in events if dict(e).get("Variable") == "AGISTATUS"]
    assert statuses == ["FAILURE"]
    assert not [e for e in events if dict(e)["Event"].startswith("AGIExec")]


def test_reference_traces_are_the_recorded_ones() -> None:
    """The copied traces still have their CRLF framing (guards against an editor's rewrite)."""
    data = (REFERENCE / "a-answered-caller-hangup.txt").read_bytes()
    assert b"\r\n\r\n" in data and data.count(b"Event: ") > 100
    assert Path(REFERENCE / "rig-extensions.conf").exists()
