"""How many calls per second the PBX simulator can play (production dialplan, FastAGI, AMI).

Runs the simulator on loopback with N agents' phones and a minimal FastAGI
responder standing in for the daemon (inbound → route → dial the next agent),
places CALLS inbound calls as fast as the scenario allows on a fast ScaledClock,
and counts completed calls and AMI events delivered to one TCP client (with the
production manager.conf filters, as the daemon would see them).

    .venv/bin/python bench/sim_calls.py --calls 400 --agents 40 --scale 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import time

from callcenter.clock import ScaledClock
from callcenter.sim.runner import Simulator, SimulatorOptions
from callcenter.sim.scenario import Scenario


async def fastagi_stub(agents: list[str]) -> asyncio.base_events.Server:
    turn = itertools.cycle(agents)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = {}
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value
        script = env.get("agi_network_script", "")
        if script == "inbound":
            commands = ['SET VARIABLE CC_ACTION "route"']
        elif script == "route":
            agent = next(turn)
            commands = [
                'SET VARIABLE CC_ACTION "dial"',
                f'SET VARIABLE CC_AGENT_CHANNEL "PJSIP/{agent}"',
                'SET VARIABLE CC_RING_TIMEOUT "15"',
            ]
        else:
            commands = []
        for command in commands:
            writer.write((command + "\n").encode())
            await writer.drain()
            await reader.readline()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def count_events(port: int, counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"Action: Login\r\nUsername: callcenter\r\nSecret: bench\r\nEvents: on\r\n\r\n")
    await writer.drain()
    while line := await reader.readline():
        if line.startswith(b"Event: "):
            counter[0] += 1


async def main(calls: int, agents: int, scale: float) -> None:
    names = [str(200 + i) for i in range(agents)]
    agi = await fastagi_stub(names)
    agi_port = agi.sockets[0].getsockname()[1]
    scenario = Scenario(
        arrival_per_minute=agents * 6.0,  # offered load ≈ agents busy half the time
        agents=names,
        answer_delay_min=1.0,
        answer_delay_max=3.0,
        talk_min=4.0,
        talk_max=8.0,
        no_answer_ratio=0.0,
        patience_min=300.0,
        patience_max=300.0,
        menu_digit_ratio=0.0,
        time_scale=scale,
        max_calls=calls,
        seed=42,
    )
    sim = Simulator(
        scenario,
        SimulatorOptions(ami_secret="bench", agi_url=f"agi://127.0.0.1:{agi_port}"),
        ScaledClock(scale),
    )
    port = await sim.start()
    counter = [0]
    reader = asyncio.ensure_future(count_events(port, counter))
    await asyncio.sleep(0.2)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    await sim.run_calls()
    await sim.pbx.idle.wait()
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    stats = sim.pbx.stats
    reader.cancel()
    await sim.close()
    agi.close()
    print(
        f"calls placed {sim.calls_placed}, answered {stats['calls_answered']}, channels {stats['channels']}"
    )
    print(f"FastAGI sessions {stats['agi_sessions']}, AMI events delivered (filtered) {counter[0]}")
    print(f"wall {wall:.2f} s, CPU {cpu:.2f} s (simulator + stub + client in one process)")
    print(
        f"=> {sim.calls_placed / wall:.1f} calls/s wall, {sim.calls_placed / cpu:.1f} calls per CPU second, "
        f"{counter[0] / cpu:.0f} AMI events per CPU second"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--scale", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.agents, args.scale))
