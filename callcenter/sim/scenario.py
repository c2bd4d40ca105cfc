"""What a simulation run looks like: agents' phones, callers and their arrival rate.

Read from a TOML file (``[sim]`` table) and/or CLI flags; every random draw comes
from one seeded generator, so a run can be repeated exactly.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from callcenter.sim.phones import PhoneBehaviour


class ScenarioError(Exception):
    """A scenario file or flag that cannot be used, phrased for a human."""


@dataclass
class Scenario:
    #: calls per minute of simulated time (Poisson arrivals)
    arrival_per_minute: float = 3.0
    #: agents' phones, as PJSIP endpoints (101 → PJSIP/101)
    agents: list[str] = field(default_factory=lambda: ["101", "102", "103"])
    answer_delay_min: float = 1.0
    answer_delay_max: float = 5.0
    talk_min: float = 20.0
    talk_max: float = 90.0
    no_answer_ratio: float = 0.1
    #: seconds a caller waits for an agent before hanging up
    patience_min: float = 30.0
    patience_max: float = 180.0
    #: hotline numbers (DIDs) callers dial
    dids: list[str] = field(default_factory=lambda: ["19006868"])
    #: numbers of known customers; the rest are made up or anonymous
    known_numbers: list[str] = field(default_factory=list)
    known_ratio: float = 0.6
    anonymous_ratio: float = 0.1
    #: share of callers who press a menu digit (when the hotline plays one)
    menu_digit_ratio: float = 0.7
    #: share of callers who answer the post-call survey on the keypad (the rest stay silent)
    survey_answer_ratio: float = 0.0
    seed: int = 1
    #: simulated seconds per wall second
    time_scale: float = 1.0
    #: stop after this many calls (0: until stopped)
    max_calls: int = 0

    def __post_init__(self) -> None:
        if self.arrival_per_minute <= 0:
            raise ScenarioError("arrival_per_minute must be positive")
        if self.time_scale <= 0:
            raise ScenarioError("time_scale must be positive")
        for low, high in (
            ("answer_delay_min", "answer_delay_max"),
            ("talk_min", "talk_max"),
            ("patience_min", "patience_max"),
        ):
            if getattr(self, low) > getattr(self, high) or getattr(self, low) < 0:
                raise ScenarioError(f"{low} must be between 0 and {high}")
        for ratio in (
            "no_answer_ratio",
            "known_ratio",
            "anonymous_ratio",
            "menu_digit_ratio",
            "survey_answer_ratio",
        ):
            if not 0 <= getattr(self, ratio) <= 1:
                raise ScenarioError(f"{ratio} must be between 0 and 1")
        if not self.agents:
            raise ScenarioError("at least one agent is needed")

    def phones(self) -> dict[str, PhoneBehaviour]:
        return {
            agent: PhoneBehaviour(
                agent,
                answer_delay=self.answer_delay_min,
                answer_delay_max=self.answer_delay_max,
                talk_seconds=self.talk_min,
                talk_seconds_max=self.talk_max,
                no_answer_ratio=self.no_answer_ratio,
            )
            for agent in self.agents
        }


def load_scenario(path: str | Path | None = None, **overrides: Any) -> Scenario:
    """A TOML file's ``[sim]`` table, then non-None overrides (CLI flags) on top."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScenarioError(f"scenario file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from None
        data = dict(document.get("sim", document))
    known = {f.name for f in fields(Scenario)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError(f"unknown scenario setting(s): {', '.join(unknown)}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario(**data)
    except TypeError as exc:
        raise ScenarioError(str(exc)) from None


@dataclass
class CallPlan:
    """One caller: who, which number, how patient, what they press."""

    did: str
    number: str
    name: str
    patience: float
    digits: str
    kind: str  # known | unknown | anonymous


def next_call(scenario: Scenario, rng: random.Random) -> CallPlan:
    did = rng.choice(scenario.dids)
    roll = rng.random()
    if roll < scenario.anonymous_ratio:
        number, name, kind = "anonymous", "Anonymous", "anonymous"
    elif scenario.known_numbers and roll < scenario.anonymous_ratio + scenario.known_ratio:
        number, name, kind = rng.choice(scenario.known_numbers), "", "known"
    else:
        prefix = rng.choice(["090", "091", "093", "096", "097", "098", "032", "035", "077", "081"])
        number, name, kind = (
            prefix + "".join(rng.choice("0123456789") for _ in range(7)),
            "",
            "unknown",
        )
    digits = rng.choice("12345") if rng.random() < scenario.menu_digit_ratio else ""
    patience = rng.uniform(scenario.patience_min, scenario.patience_max)
    return CallPlan(did, number, name, patience, digits, kind)


def survey_keys(rng: random.Random) -> Callable[[int], str]:
    """A caller's answers to the post-call survey: a score 0–10 then ``#`` when the
    dialplan reads two keys, else a key from 1 to 5 (a choice the question may not have is
    repeated by the daemon, as with a real caller)."""

    def press(digits: int) -> str:
        return f"{rng.randint(0, 10)}#" if digits >= 2 else str(rng.randint(1, 5))

    return press


def arrival_gap(scenario: Scenario, rng: random.Random) -> float:
    """Seconds (simulated) until the next call."""
    return rng.expovariate(scenario.arrival_per_minute / 60.0)
