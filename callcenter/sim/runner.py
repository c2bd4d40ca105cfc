"""Assemble a running simulator: PBX + AMI server + recorder + the caller generator.

Used by ``callcenter sim``, ``callcenter demo``, the tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.clock import Clock, ScaledClock
from callcenter.sim.ami import AmiServer, AmiUser, parse_manager_conf
from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.recording import Recorder
from callcenter.sim.scenario import Scenario, arrival_gap, next_call, survey_keys

log = logging.getLogger(__name__)

#: The production configuration the simulator runs (repository checkout).
ASTERISK_DIR = Path(__file__).resolve().parents[2] / "asterisk"

#: How long the production prompts play, in seconds (the real files are
#: generated per site; these are the lengths of the espeak-ng Vietnamese ones).
PROMPT_SECONDS = {
    "callcenter/recording-notice": 4.0,
    "callcenter/closed": 6.0,
    "callcenter/menu": 8.0,
    "callcenter/invalid": 2.5,
    "callcenter/please-wait": 4.0,
    "callcenter/sorry": 4.0,
}


class SimulatorError(Exception):
    """The simulator cannot start, phrased for a human."""


@dataclass
class SimulatorOptions:
    ami_username: str = "callcenter"
    ami_secret: str = "change-me"
    agi_url: str = "agi://127.0.0.1:4573"
    recordings_dir: Path | None = None
    #: where synthesised phrases are cached (default: a hidden folder in recordings_dir)
    speech_cache_dir: Path | None = None
    asterisk_dir: Path = ASTERISK_DIR
    #: apply manager.conf's eventfilter lines to the AMI user (as production would)
    use_manager_filters: bool = True
    extra_globals: dict[str, str] = field(default_factory=dict)


class Simulator:
    def __init__(
        self, scenario: Scenario, options: SimulatorOptions, clock: Clock | None = None
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.clock = clock or ScaledClock(scenario.time_scale)
        self.rng = random.Random(scenario.seed)
        #: a generator of its own: answering surveys leaves the calls' draws as they were
        self.survey_rng = random.Random(f"{scenario.seed}-survey")
        if not (options.asterisk_dir / "extensions.conf").is_file():
            raise SimulatorError(
                f"no Asterisk configuration in {options.asterisk_dir} "
                "(the simulator runs the repository's asterisk/extensions.conf)"
            )
        config = PbxConfig(
            dialplan=options.asterisk_dir / "extensions.conf",
            queues=options.asterisk_dir / "queues.conf",
            globals={
                "CC_AGI": options.agi_url,
                "CC_RECORDINGS": str(
                    options.recordings_dir or "/var/spool/asterisk/monitor/callcenter"
                ),
                **options.extra_globals,
            },
            sounds=dict(PROMPT_SECONDS),
            phones=scenario.phones(),
            seed=scenario.seed,
        )
        self.pbx = Pbx(config, self.clock)
        self.recorder: Recorder | None = None
        if options.recordings_dir is not None:
            self.recorder = Recorder(options.recordings_dir, options.speech_cache_dir)
            self.pbx.recorder = self.recorder
        users = {}
        if options.use_manager_filters:
            users = parse_manager_conf(
                (options.asterisk_dir / "manager.conf").read_text(encoding="utf-8")
            )
        user = users.get(options.ami_username) or AmiUser(options.ami_username, "")
        user.secret = options.ami_secret
        self.ami = AmiServer(self.pbx, {options.ami_username: user})
        self.calls_placed = 0
        self.ami_port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if self.recorder is not None:
            await self.recorder.prepare()
        self.ami_port = await self.ami.start(host, port)
        return self.ami_port

    async def place_one(self) -> None:
        plan = next_call(self.scenario, self.rng)
        talk = self.rng.uniform(self.scenario.talk_min, self.scenario.talk_max) * 1.5
        answers = self.survey_rng.random() < self.scenario.survey_answer_ratio
        await self.pbx.place_call(
            plan.did,
            plan.number,
            plan.name,
            digits=plan.digits,
            patience=plan.patience,
            talk_seconds=talk,
            survey_keys=survey_keys(self.survey_rng) if answers else None,
        )
        self.calls_placed += 1
        log.info("call %d from %s (%s) to %s", self.calls_placed, plan.number, plan.kind, plan.did)

    async def run_calls(self, stop: asyncio.Event | None = None) -> None:
        """Place calls at the scenario's rate until stopped (or max_calls)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            if self.scenario.max_calls and self.calls_placed >= self.scenario.max_calls:
                return
            await self.place_one()
            await self.clock.sleep(arrival_gap(self.scenario, self.rng))

    async def close(self) -> None:
        await self.ami.close()
        await self.pbx.close()
        if self.recorder is not None:
            await self.recorder.drain()
