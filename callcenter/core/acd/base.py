"""The ACD's state and the lookups and state change every part of it shares.

Agent states, the waiting list and the strategies are classes that build on this one;
:class:`~callcenter.core.acd.engine.Acd` puts them together.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from callcenter.clock import Clock
from callcenter.core.acd.model import (
    AcdError,
    AcdSettings,
    Agent,
    AgentState,
    Call,
    GroupConfig,
    StateChange,
    StateListener,
    Strategy,
)


class AcdBase:
    """Groups, agents and calls by id, the round-robin memory, and who hears state changes."""

    def __init__(
        self,
        clock: Clock,
        settings: AcdSettings | None = None,
        *,
        on_state_change: StateListener | None = None,
    ) -> None:
        self.clock = clock
        self.settings = settings or AcdSettings()
        self.groups: dict[str, GroupConfig] = {}
        self.agents: dict[int, Agent] = {}
        self.calls: dict[str, Call] = {}
        self._round_robin_last: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._listeners: list[StateListener] = [on_state_change] if on_state_change else []

    # ------------------------------------------------------------------ configuration
    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def configure(self, groups: Iterable[GroupConfig], settings: AcdSettings | None = None) -> None:
        """Replace the group configuration; agents' live state and waiting callers are kept."""
        self.groups = {group.code: group for group in groups}
        if settings is not None:
            self.settings = settings

    def upsert_agent(self, agent_id: int, *, name: str = "", interface: str = "") -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = Agent(id=agent_id, name=name, interface=interface, state_since=self.clock.now())
            self.agents[agent_id] = agent
        else:
            agent.name = name or agent.name
            agent.interface = interface or agent.interface
        return agent

    def set_strategy(self, group_code: str, strategy: Strategy) -> None:
        self._group(group_code).strategy = Strategy(strategy)

    def _agent(self, agent_id: int) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AcdError(f"unknown agent {agent_id}") from None

    def _call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            raise AcdError(f"unknown call {call_id}") from None

    def _group(self, code: str) -> GroupConfig:
        try:
            return self.groups[code]
        except KeyError:
            raise AcdError(f"unknown group {code!r}") from None

    def _set_state(self, agent: Agent, state: AgentState, reason: str = "") -> None:
        if agent.state is state and agent.reason == reason:
            return
        previous = agent.state
        now = self.clock.now()
        agent.state = state
        agent.reason = reason
        agent.state_since = now
        change = StateChange(agent.id, previous, state, reason, agent.channel, now)
        for listener in self._listeners:
            listener(change)
