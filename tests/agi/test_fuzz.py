"""Hostile FastAGI peers, generated: any header or reply bytes end the session cleanly.

"Cleanly" means: the server closes the socket within its timeouts, reports one outcome
to its observer, leaves no session task behind, raises nothing into the event loop, and
serves the next well-behaved session normally.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.agi.server import AgiSession, FastAgiServer
from tests.agi.peer import environment, run_session

HOST = "127.0.0.1"
KNOWN_OUTCOMES = {"ok", "deadline", "error", "unknown", "bad", "hangup"}


async def _rig(route_deadline: float = 1.0) -> tuple[FastAgiServer, list[Any], list[Any]]:
    outcomes: list[tuple[str, str, float]] = []
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    server = FastAgiServer(
        header_timeout=0.3, command_timeout=0.3, observer=lambda *a: outcomes.append(a)
    )

    async def route(session: AgiSession) -> None:
        await session.verbose("fuzz")
        value = await session.get_variable("AGENT_CHANNEL")
        await session.set_variable("CC_ACTION", value or "none")

    server.add_route("route", route, deadline=route_deadline)
    await server.start(HOST, 0)
    return server, outcomes, loop_errors


async def _talk(port: int, payload: bytes, replies: list[bytes]) -> None:
    """Send ``payload``, answer each line the server writes with the next reply, then EOF."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(payload)
        await writer.drain()
        async with asyncio.timeout(3.0):  # the server must end the session well before
            for answer in replies:
                if not await reader.readline():
                    return
                writer.write(answer)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            while await reader.read(4096):
                pass
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _after_each(server: FastAgiServer, outcomes: list[Any], errors: list[Any]) -> None:
    for _ in range(100):  # the session task finishes right after its socket closes
        if not server._sessions:
            break
        await asyncio.sleep(0.01)
    assert not server._sessions, "a session task is stuck"
    assert len(outcomes) == 1 and outcomes[0][1] in KNOWN_OUTCOMES, outcomes
    # The server is still healthy: a normal session right after is served.
    channel = await run_session(HOST, server.port, "route")
    assert channel.variables == {"CC_ACTION": "none"}
    assert outcomes[-1][1] == "ok"
    await server.close()
    assert errors == [], errors


header_line = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda key, value: f"{key}: {value}".encode(),
        st.sampled_from(["agi_network_script", "agi_channel", "agi_uniqueid", "agi_callerid",
                         "agi_arg_1", "agi_x", "agi_", "not_agi", ""]),
        st.text(max_size=40).map(lambda text: text.replace("\n", " ")),
    ),
)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(st.lists(header_line, max_size=12), st.sampled_from([b"\n", b"\r\n", b""]), st.booleans())
def test_any_header_ends_the_session_cleanly(
    lines: list[bytes], newline: bytes, finished: bool
) -> None:
    payload = newline.join(lines) + (newline * 2 if finished and newline else b"")

    async def scenario() -> None:
        server, outcomes, errors = await _rig()
        await _talk(server.port, payload, [b"200 result=1\n"] * 3)
        await _after_each(server, outcomes, errors)

    asyncio.run(scenario())


reply_line = st.one_of(
    st.binary(max_size=60).map(lambda raw: raw.replace(b"\n", b"") + b"\n"),
    st.sampled_from(
        [b"200 result=1\n", b"200 result=1 (Local/201@sim-agent)\n", b"200 result=-1\n",
         b"HANGUP\n", b"510 Invalid or unknown command\n", b"511 Command Not Permitted\n",
         b"520-Invalid command syntax.\n", b"520 End of proper usage.\n", b"100 result=0 Trying\n",
         b"200 result=\n", b"200 result=1 (unclosed\n", b"999 nonsense\n", b"\n"]
    ),
    st.lists(st.sampled_from([b"HANGUP\n", b"100 result=0 Trying\n", b"520-more\n"]),
             min_size=1, max_size=4).map(b"".join),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(reply_line, max_size=5))
def test_any_replies_end_the_session_cleanly(replies: list[bytes]) -> None:
    async def scenario() -> None:
        server, outcomes, errors = await _rig()
        await _talk(server.port, environment("route"), replies)
        await _after_each(server, outcomes, errors)

    asyncio.run(scenario())
