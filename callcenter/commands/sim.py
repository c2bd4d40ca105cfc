"""``callcenter sim``: run the PBX simulator (AMI server + FastAGI client) on its own.

Point a daemon at it (``ami.port`` = ``--ami-port``, ``agi.port`` in ``--agi``) and
it places calls at the scenario's rate, with simulated agents' phones, until
stopped. A scenario file (TOML, ``[sim]`` table) sets everything; flags win.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    sim = subparsers.add_parser("sim", help="run the PBX simulator (plays Asterisk)")
    sim.add_argument("--scenario", help="TOML scenario file ([sim] table)")
    sim.add_argument(
        "--rate", type=float, dest="arrival_per_minute", help="calls per simulated minute"
    )
    sim.add_argument("--agents", help="agents' PJSIP endpoints, comma separated (e.g. 101,102,103)")
    sim.add_argument("--answer-delay", help="seconds before an agent answers: MIN or MIN-MAX")
    sim.add_argument("--talk", help="seconds an agent talks: MIN or MIN-MAX")
    sim.add_argument("--patience", help="seconds a caller waits before hanging up: MIN or MIN-MAX")
    sim.add_argument("--no-answer-ratio", type=float, help="share of rings left unanswered")
    sim.add_argument("--did", help="hotline numbers dialled, comma separated")
    sim.add_argument("--seed", type=int, help="random seed (same seed, same calls)")
    sim.add_argument("--time-scale", type=float, help="simulated seconds per wall second (e.g. 60)")
    sim.add_argument("--calls", type=int, dest="max_calls", help="stop after this many calls")
    sim.add_argument("--ami-host", default="127.0.0.1")
    sim.add_argument("--ami-port", type=int, default=5038, help="AMI port to serve (0: any)")
    sim.add_argument(
        "--agi", help="FastAGI URL of the daemon (default from settings agi.host/port)"
    )
    sim.add_argument("--recordings", help="write WAV recordings of answered calls here")
    sim.set_defaults(func=run)


def _range(text: str | None, name: str) -> tuple[float | None, float | None]:
    if text is None:
        return None, None
    low, _, high = text.partition("-")
    try:
        return float(low), float(high or low)
    except ValueError:
        raise SystemExit(f"--{name}: expected MIN or MIN-MAX seconds, got {text!r}") from None


def scenario_from_args(args: argparse.Namespace) -> Any:
    from callcenter.sim.scenario import load_scenario

    answer = _range(args.answer_delay, "answer-delay")
    talk = _range(args.talk, "talk")
    patience = _range(args.patience, "patience")
    return load_scenario(
        args.scenario,
        arrival_per_minute=args.arrival_per_minute,
        agents=[a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None,
        answer_delay_min=answer[0],
        answer_delay_max=answer[1],
        talk_min=talk[0],
        talk_max=talk[1],
        patience_min=patience[0],
        patience_max=patience[1],
        no_answer_ratio=args.no_answer_ratio,
        dids=[d.strip() for d in args.did.split(",")] if args.did else None,
        seed=args.seed,
        time_scale=args.time_scale,
        max_calls=args.max_calls,
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.sim.scenario import ScenarioError

    try:
        scenario = scenario_from_args(args)
    except ScenarioError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return 2
    from callcenter.sim.runner import SimulatorError

    agi = args.agi or f"agi://{settings.agi.host}:{settings.agi.port}"
    try:
        asyncio.run(_serve(scenario, settings, args, agi))
    except SimulatorError as exc:
        print(f"simulator error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"simulator error: cannot listen on {args.ami_host}:{args.ami_port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


async def _serve(scenario: Any, settings: Settings, args: argparse.Namespace, agi: str) -> None:
    from callcenter.sim.runner import Simulator, SimulatorOptions

    sim = Simulator(
        scenario,
        SimulatorOptions(
            ami_username=settings.ami.username,
            ami_secret=settings.ami.secret.get_secret_value(),
            agi_url=agi,
            recordings_dir=Path(args.recordings) if args.recordings else None,
        ),
    )
    port = await sim.start(args.ami_host, args.ami_port)
    print(
        f"simulated Asterisk: AMI on {args.ami_host}:{port} (user {settings.ami.username}), FastAGI to {agi}",
        flush=True,
    )
    print(
        f"agents: {', '.join('PJSIP/' + a for a in scenario.agents)}; {scenario.arrival_per_minute:g} calls/min, x{scenario.time_scale:g}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    calls = asyncio.ensure_future(sim.run_calls(stop))
    try:
        await asyncio.wait(
            {calls, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if calls.done() and not stop.is_set():
            # max_calls reached: let the last calls finish.
            await asyncio.wait(
                {asyncio.ensure_future(sim.pbx.idle.wait()), asyncio.ensure_future(stop.wait())},
                return_when=asyncio.FIRST_COMPLETED,
            )
    finally:
        calls.cancel()
        await sim.close()
        stats = sim.pbx.stats
        print(
            f"placed {sim.calls_placed} calls, {stats['calls_answered']} answered, {stats['agi_sessions']} FastAGI sessions",
            flush=True,
        )
