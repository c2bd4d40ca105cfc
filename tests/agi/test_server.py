"""The FastAGI server against an Asterisk-like peer: protocol edge cases, misbehaving peers, deadlines."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator

import pytest

from callcenter.agi.protocol import AgiCommandError, parse_environment, parse_result
from callcenter.agi.server import AgiSession, FastAgiServer
from tests.agi.peer import FakeChannel, environment, run_session

HOST = "127.0.0.1"


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    outcomes: list[tuple[str, str, float]] = []
    srv = FastAgiServer(
        header_timeout=0.5, command_timeout=2.0, observer=lambda *args: outcomes.append(args)
    )
    srv.outcomes = outcomes  # type: ignore[attr-defined]
    await srv.start(HOST, 0)
    yield srv
    await srv.close()


class LoopLag:
    """Measures how late a 10 ms timer fires: the event loop's responsiveness."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)
            self.ticks += 1

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def test_parse_trace_lines() -> None:
    env = parse_environment(environment("route").decode().splitlines())
    assert env["agi_channel"] == "Local/100@hotline-0000000c;2"
    assert env["agi_accountcode"] == ""
    reply = parse_result(200, "result=1 (Local/201@sim-agent)")
    assert (reply.result, reply.data) == ("1", "Local/201@sim-agent")
    reply = parse_result(200, "result=-1 endpos=38080")
    assert reply.result_int == -1 and reply.extra == {"endpos": "38080"}


async def test_route_session_like_the_trace(server: FastAgiServer) -> None:
    async def route(session: AgiSession) -> None:
        await session.verbose(f"route: channel {session.channel} caller {session.caller}")
        previous = await session.get_variable("AGENT_CHANNEL")
        assert previous == "Local/201@sim-agent"
        await session.set_variable("AGENT_CHANNEL", "Local/401@sim-agent")

    server.add_route("route", route, deadline=1.0)
    channel = FakeChannel(variables={"AGENT_CHANNEL": "Local/201@sim-agent"})
    await run_session(HOST, server.port, "route", channel)
    assert channel.commands == [
        'VERBOSE "route: channel Local/100@hotline-0000000c;2 caller +15551230001" 1',
        "GET VARIABLE AGENT_CHANNEL",
        'SET VARIABLE AGENT_CHANNEL "Local/401@sim-agent"',
    ]
    assert channel.variables["AGENT_CHANNEL"] == "Local/401@sim-agent"
    assert server.outcomes[-1][:2] == ("route", "ok")  # type: ignore[attr-defined]


async def test_510_520_and_hangup_mid_reply(server: FastAgiServer) -> None:
    seen: dict[str, object] = {}

    async def protocol(session: AgiSession) -> None:
        with pytest.raises(AgiCommandError) as unknown:
            await session.command("FOO BAR")
        seen["510"] = unknown.value.code
        with pytest.raises(AgiCommandError) as usage:
            await session.command("SET VARIABLE")
        seen["520"] = (usage.value.code, usage.value.message)
        seen["value"] = await session.get_variable("AGENT_CHANNEL")
        seen["hung_up"] = session.hung_up

    server.add_route("route", protocol)
    channel = FakeChannel(variables={"AGENT_CHANNEL": "Local/201@sim-agent"}, hangup_before_reply=2)
    await run_session(HOST, server.port, "route", channel)
    assert seen["510"] == 510
    code, message = seen["520"]  # type: ignore[misc]
    assert code == 520 and "Sets a variable to the current channel." in message
    assert "End of proper usage." in message
    # The unsolicited HANGUP line came before the reply; the reply was still read correctly.
    assert seen["value"] == "Local/201@sim-agent"
    assert seen["hung_up"] is True


async def test_half_header_then_close_keeps_the_loop_responsive(server: FastAgiServer) -> None:
    """panoramisk's handler spins forever here; ours ends the session and the loop stays live."""
    served: list[str] = []

    async def route(session: AgiSession) -> None:
        served.append(session.uniqueid)
        await session.set_variable("CC_ACTION", "wait")

    server.add_route("route", route)
    cpu_before = time.process_time()
    with LoopLag() as lag:
        for _ in range(5):
            _, writer = await asyncio.open_connection(HOST, server.port)
            writer.write(environment("route")[:120])  # half a header, mid-line
            await writer.drain()
            writer.close()
        await asyncio.sleep(0.3)
        # A good session right after is served normally.
        channel = await run_session(HOST, server.port, "route", uniqueid="42.1")
        await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu_before
    assert served == ["42.1"]
    assert channel.variables == {"CC_ACTION": "wait"}
    assert lag.ticks >= 20
    assert lag.worst < 0.1, f"event loop stalled {lag.worst:.3f} s"
    assert cpu < 0.4, f"{cpu:.2f} s of CPU in 0.5 s: the loop is spinning"
    assert [outcome for script, outcome, _ in server.outcomes].count("bad") == 5  # type: ignore[attr-defined]


async def test_silent_peer_is_dropped_after_the_header_timeout(server: FastAgiServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"agi_network: yes\n")
    await writer.drain()
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), 3.0)
    assert data == b""  # the server closed the connection
    assert 0.4 <= time.monotonic() - started < 1.5
    writer.close()


async def test_stalled_route_takes_the_fallback_within_the_deadline(server: FastAgiServer) -> None:
    async def stalled(session: AgiSession) -> None:
        await asyncio.sleep(30)

    server.add_route("route", stalled, deadline=1.0)
    started = time.monotonic()
    channel = await asyncio.wait_for(run_session(HOST, server.port, "route"), 5.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0  # ~1 s (a loaded test machine adds a little)
    assert channel.variables == {"CC_ACTION": "fallback"}
    assert not any(command.upper().startswith("HANGUP") for command in channel.commands)
    assert server.outcomes[-1][1] == "deadline"  # type: ignore[attr-defined]


async def test_failing_route_leaves_the_call_in_the_dialplan(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(session: AgiSession) -> None:
        raise RuntimeError("database exploded")

    server.add_route("route", broken, deadline=1.0)
    channel = await run_session(HOST, server.port, "route")
    assert channel.commands == ['SET VARIABLE CC_ACTION "fallback"']
    assert "database exploded" in caplog.text
    assert server.outcomes[-1][1] == "error"  # type: ignore[attr-defined]


async def test_unknown_script_gets_the_fallback(server: FastAgiServer) -> None:
    channel = await run_session(HOST, server.port, "nonsense?x=1")
    assert channel.variables == {"CC_ACTION": "fallback"}
    assert server.outcomes[-1][:2] == ("nonsense", "unknown")  # type: ignore[attr-defined]


async def test_query_and_arguments_reach_the_route(server: FastAgiServer) -> None:
    seen: list[object] = []

    async def menu(session: AgiSession) -> None:
        seen.extend([session.script, session.query, session.args])

    server.add_route("menu", menu)
    await run_session(HOST, server.port, "menu?hotline=19001234", args=("2",))
    assert seen == ["menu", {"hotline": "19001234"}, ["2"]]


def test_panoramisk_handler_spins_on_half_header() -> None:
    """Control: the same misbehaving peer freezes panoramisk's own handler (so our test can fail)."""
    program = textwrap.dedent(
        """
        import asyncio, sys, time
        from panoramisk.fast_agi import Application

        async def main():
            app = Application()
            server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]

            async def heartbeat():
                while True:
                    print("beat", flush=True)
                    await asyncio.sleep(0.05)

            asyncio.ensure_future(heartbeat())
            await asyncio.sleep(0.2)
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"agi_network: yes\\nagi_network_scr")
            await writer.drain()
            writer.close()
            print("sent", flush=True)
            await asyncio.sleep(3)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        output, _ = process.communicate(timeout=1.5)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    after = output.split("sent", 1)[1] if "sent" in output else ""
    # Before the bad peer the heartbeat ran; after it, at most one beat before the loop froze.
    assert output.count("beat") >= 2
    assert after.count("beat") <= 1
