"""``callcenter demo`` and ``callcenter sim`` the way a newcomer runs them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.config import load_settings
from callcenter.demo import DEMO_PASSWORD, run_demo
from callcenter.sim.scenario import ScenarioError, load_scenario


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_demo_serves_pages_and_calls_arrive(tmp_path: Path) -> None:
    port = _port()
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ready: dict[str, Any] = {}

    def on_ready(sim: Any, settings: Any) -> None:
        ready["sim"], ready["settings"] = sim, settings

    data_dir = tmp_path / "demo"
    demo = asyncio.ensure_future(
        run_demo(
            load_settings(),
            port=port,
            data_dir=str(data_dir),
            stop=stop,
            call_every=3.0,
            on_ready=on_ready,
            time_scale=20.0,
        )
    )
    try:
        for _ in range(1200):  # migrations + 200 seeded customers: slow on a busy machine
            if "sim" in ready or demo.done():
                break
            await asyncio.sleep(0.05)
        assert "sim" in ready, demo.exception() if demo.done() else "demo did not start"
        sim = ready["sim"]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert response.status in (200, 302, 303)
        for _ in range(400):
            if sim.calls_placed >= 3 and sim.pbx.stats["agi_sessions"] >= 1:
                break
            await asyncio.sleep(0.05)
        assert sim.calls_placed >= 3
        # The daemon's FastAGI server answered the simulator's inbound requests.
        assert sim.pbx.stats["agi_sessions"] >= 1
        # agent2 and agent3 were staffed on simulated phones: calls are answered and recorded.
        recordings = data_dir / "recordings"
        for _ in range(300):
            if list(recordings.glob("*.wav")):
                break
            await asyncio.sleep(0.05)
        assert list(recordings.glob("*.wav")), "no answered call was recorded"
        assert sim.pbx.stats["calls_answered"] >= 1
        numbers = sim.scenario.known_numbers
        assert numbers and all(n.startswith("0") for n in numbers)  # seeded customers' numbers
        assert ready["settings"].ami.port == sim.ami_port
    finally:
        stop.set_result(None)
        await asyncio.wait_for(demo, 20)
    assert DEMO_PASSWORD


def test_example_scenario_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "callcenter" / "sim" / "example-scenario.toml"
    scenario = load_scenario(example)
    assert scenario.time_scale == 60.0 and scenario.agents == ["101", "102", "103"]


def test_scenario_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[sim]\narrival_per_minute = 12\nagents = ["201", "202"]\nseed = 7\ntime_scale = 60\n'
    )
    scenario = load_scenario(path, seed=9)
    assert (
        scenario.arrival_per_minute == 12
        and scenario.agents == ["201", "202"]
        and scenario.seed == 9
    )
    path.write_text("[sim]\narival_per_minute = 12\n")
    with pytest.raises(ScenarioError, match="unknown scenario setting"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="patience_min"):
        load_scenario(None, patience_min=50, patience_max=10)


def test_cli_sim_runs_calls_and_reports(tmp_path: Path) -> None:
    """`callcenter sim` with flags: calls placed with the daemon down (fallback queue)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter.cli",
            "sim",
            "--ami-port",
            "0",
            "--agi",
            "agi://127.0.0.1:1",
            "--time-scale",
            "60",
            "--calls",
            "3",
            "--rate",
            "30",
            "--patience",
            "20-30",
            "--answer-delay",
            "1-2",
            "--talk",
            "5-10",
            "--seed",
            "3",
            "--recordings",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "placed 3 calls" in result.stdout
    assert "answered" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "sim", "--talk", "ten"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode != 0 and "--talk" in (bad.stderr + bad.stdout)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        clash = subprocess.run(
            [
                sys.executable,
                "-m",
                "callcenter.cli",
                "sim",
                "--ami-port",
                str(taken),
                "--calls",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert (
        clash.returncode == 2
        and "cannot listen" in clash.stderr
        and "Traceback" not in clash.stderr
    )


def test_callers_mix_known_unknown_anonymous_and_repeat_with_the_seed() -> None:
    import random

    from callcenter.sim.scenario import Scenario, arrival_gap, next_call

    scenario = Scenario(
        known_numbers=["0912345678", "0987654321"], known_ratio=0.6, anonymous_ratio=0.1, seed=5
    )

    def draw(seed: int) -> list[tuple[str, str, str]]:
        rng = random.Random(seed)
        return [
            (p.kind, p.number, p.digits) for p in (next_call(scenario, rng) for _ in range(500))
        ]

    calls = draw(5)
    assert calls == draw(5)  # same seed, same callers
    assert calls != draw(6)
    kinds = {
        kind: sum(1 for k, _, _ in calls if k == kind) for kind in ("known", "unknown", "anonymous")
    }
    assert (
        250 < kinds["known"] < 350 and 150 < kinds["unknown"] < 250 and 25 < kinds["anonymous"] < 80
    )
    assert all(n in scenario.known_numbers for k, n, _ in calls if k == "known")
    assert all(n == "anonymous" for k, n, _ in calls if k == "anonymous")
    assert all(len(n) == 10 and n.startswith("0") for k, n, _ in calls if k == "unknown")
    rng = random.Random(1)
    gaps = [arrival_gap(Scenario(arrival_per_minute=6), rng) for _ in range(2000)]
    assert 9.0 < sum(gaps) / len(gaps) < 11.0  # 6 calls a minute: one every ~10 s


@pytest.mark.parametrize("source", ["environment", "config file"])
def test_demo_refuses_a_configured_database(tmp_path: Path, source: str) -> None:
    """The demo's published password must never land in a real database: one line, exit 2."""
    target = tmp_path / "production.db"
    url = f"sqlite+aiosqlite:///{target}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    command = [sys.executable, "-m", "callcenter.cli"]
    if source == "environment":
        env["CALLCENTER_DATABASE__URL"] = url
    else:
        config = tmp_path / "callcenter.toml"
        config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
        command += ["--config", str(config)]
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [*command, "demo", "--port", str(_port()), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "demo" in lines[0] and "CALLCENTER_DATABASE__URL" in lines[0]
    assert "Traceback" not in result.stderr
    assert not target.exists()  # nothing was created in the configured database
    assert not data_dir.exists()  # and the demo did not start either
