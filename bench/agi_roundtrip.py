"""FastAGI session round-trip time: connect, environment block, 4 commands, close.

A client plays Asterisk exactly as the traces show (agi_* header lines, then one
reply per command line) against the daemon's FastAGI server, whose route does
what the production ``route`` does on the wire: read one variable, set four.
Prints p50/p99 of the whole session (connect → server closes) and sessions/s.

    .venv/bin/python bench/agi_roundtrip.py --sessions 5000 --concurrency 1
    .venv/bin/python bench/agi_roundtrip.py --sessions 5000 --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from callcenter.agi.server import AgiSession, FastAgiServer

ENV = (
    "agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1:4573/route\n"
    "agi_channel: PJSIP/trunk-0000000c\nagi_language: en\nagi_type: PJSIP\n"
    "agi_uniqueid: {uid}\nagi_version: 22.10.1\nagi_callerid: 0912345678\n"
    "agi_calleridname: Customer A\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\nagi_context: cc-route\n"
    "agi_extension: s\nagi_priority: 4\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 139958165001920\n\n"
)


async def route(session: AgiSession) -> None:
    await session.get_variable("CC_GROUP")
    await session.set_variables(
        {
            "CC_AGENT_CHANNEL": "PJSIP/101",
            "CC_AGENT_ID": "1",
            "CC_RING_TIMEOUT": "15",
            "CC_ACTION": "dial",
        }
    )


async def one_session(port: int, uid: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ENV.format(uid=f"1795436100.{uid}").encode())
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.startswith(b"GET VARIABLE"):
            writer.write(b"200 result=1 (care)\n")
        else:
            writer.write(b"200 result=1\n")
    writer.close()
    return time.perf_counter() - started


async def main(sessions: int, concurrency: int) -> None:
    server = FastAgiServer()
    server.add_route("route", route, deadline=1.0)
    await server.start("127.0.0.1", 0)
    for n in range(200):  # warm-up
        await one_session(server.port, n)
    durations: list[float] = []
    counter = iter(range(sessions))

    async def worker() -> None:
        for n in counter:
            durations.append(await one_session(server.port, n))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await server.close()
    cuts = statistics.quantiles(durations, n=100)
    print(
        f"{sessions} sessions, concurrency {concurrency}: "
        f"p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms, "
        f"max {max(durations) * 1000:.2f} ms, {sessions / elapsed:.0f} sessions/s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.concurrency))
