"""Agent states: log in/out, pause, wrap-up, phone and page status, and when an agent is free.

The promise kept here: an agent is offered a call only when logged in, available,
not already ringing, with a registered idle phone and (within a grace) an open page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callcenter.core.acd.base import AcdBase
from callcenter.core.acd.model import AcdError, Agent, AgentState
from callcenter.core.interfaces import interface_key


class AgentStates(AcdBase):
    # ------------------------------------------------------------------ agent actions
    def login(self, agent_id: int, interface: str | None = None) -> Agent:
        """Log in at a phone (hot-desking; default: the configured one) and become available."""
        agent = self._agent(agent_id)
        phone = (interface or "").strip() or agent.interface
        if not phone:
            raise AcdError("no phone: pick the phone you sit at")
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            raise AcdError("cannot change phone during a call")
        agent.login_interface = phone
        if agent.state is AgentState.LOGGED_OUT:
            agent.logged_in_at = self.clock.now()
            agent.missed_in_a_row = 0
            self._set_state(agent, AgentState.AVAILABLE)
        return agent

    def logout(self, agent_id: int) -> Agent:
        agent = self._agent(agent_id)
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            raise AcdError("the agent is on a call; log out after it ends")
        agent.wrapup_until = None
        agent.pause_after_call = None
        self._set_state(agent, AgentState.LOGGED_OUT)
        agent.login_interface = ""
        return agent

    def set_available(self, agent_id: int) -> Agent:
        """Unpause or end wrap-up early."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise AcdError("log in first")
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            agent.pause_after_call = None
            return agent
        agent.missed_in_a_row = 0
        agent.wrapup_until = None
        self._set_state(agent, AgentState.AVAILABLE)
        return agent

    def pause(self, agent_id: int, reason: str) -> Agent:
        """Pause now, or right after the current call when one is in progress."""
        agent = self._agent(agent_id)
        if not reason:
            raise AcdError("a pause needs a reason")
        if agent.state is AgentState.LOGGED_OUT:
            raise AcdError("log in first")
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            agent.pause_after_call = reason
            return agent
        agent.wrapup_until = None
        self._set_state(agent, AgentState.PAUSED, reason)
        return agent

    def end_wrapup(self, agent_id: int) -> Agent:
        agent = self._agent(agent_id)
        if agent.state is not AgentState.WRAPUP:
            raise AcdError("not in wrap-up")
        return self.set_available(agent_id)

    def phone_status(
        self, interface: str, *, registered: bool | None = None, busy: bool | None = None
    ) -> list[int]:
        """Device news from AMI (ContactStatus / DeviceStateChange) for one phone."""
        touched: list[int] = []
        key = interface_key(interface)
        for agent in self.agents.values():
            if agent.channel and interface_key(agent.channel) == key:
                if registered is not None:
                    agent.phone_registered = registered
                if busy is not None:
                    agent.phone_busy = busy
                if registered and not busy:
                    agent.blocked_until = None  # the phone says it is free: trust it
                touched.append(agent.id)
        return touched

    def page_status(self, agent_id: int, *, open_: bool) -> None:
        """The agent's page opened or closed; closed longer than the grace period = unavailable."""
        agent = self._agent(agent_id)
        if open_:
            agent.page_closed_since = None
        elif agent.page_closed_since is None:
            agent.page_closed_since = self.clock.now()

    # ------------------------------------------------------------------ timers
    def tick(self) -> list[int]:
        """Expire wrap-ups whose time has come; returns the agents made available."""
        now = self.clock.now()
        freed: list[int] = []
        for agent in self.agents.values():
            if (
                agent.state is AgentState.WRAPUP
                and agent.wrapup_until is not None
                and agent.wrapup_until <= now
            ):
                agent.wrapup_until = None
                self._set_state(agent, AgentState.AVAILABLE)
                freed.append(agent.id)
        return freed

    # ------------------------------------------------------------------ restart
    def restore_agent(
        self, agent_id: int, state: AgentState, *, reason: str, interface: str, since: datetime
    ) -> None:
        """After a restart: a logged-in agent comes back at their phone, paused or available.

        A stored ringing/on-call/wrap-up state is stale (the call went on without us):
        the agent becomes available, and that change is reported so the log is closed.
        """
        agent = self._agent(agent_id)
        agent.login_interface = interface or agent.interface
        agent.logged_in_at = since
        agent.state_since = since
        if state is AgentState.PAUSED:
            agent.state, agent.reason = AgentState.PAUSED, reason
            return
        agent.state = state
        if state is not AgentState.AVAILABLE:
            self._set_state(agent, AgentState.AVAILABLE)

    # ------------------------------------------------------------------ queries
    def free_agents(self, group_code: str) -> list[Agent]:
        group = self.groups.get(group_code)
        if group is None:
            return []
        return [
            self.agents[agent_id]
            for agent_id in group.members
            if agent_id in self.agents and self._is_free(self.agents[agent_id])
        ]

    def _is_free(self, agent: Agent) -> bool:
        if agent.state is not AgentState.AVAILABLE or agent.call_id is not None:
            return False
        if not agent.phone_registered or agent.phone_busy or not agent.channel:
            return False
        if agent.blocked_until is not None and agent.blocked_until > self.clock.now():
            return False
        if agent.page_closed_since is not None:
            closed_for = (self.clock.now() - agent.page_closed_since).total_seconds()
            if closed_for >= self.settings.page_grace_seconds:
                return False
        return True

    def _after_ring(self, agent: Agent) -> None:
        """An agent's phone stopped ringing without a call: back to available (or a pending pause)."""
        if agent.pause_after_call:
            reason, agent.pause_after_call = agent.pause_after_call, None
            self._set_state(agent, AgentState.PAUSED, reason)
        elif agent.state is AgentState.RINGING:
            self._set_state(agent, AgentState.AVAILABLE)

    def _finish_call(self, agent: Agent) -> None:
        now = self.clock.now()
        agent.call_id = None
        agent.last_call_ended_at = now
        if agent.pause_after_call:
            reason, agent.pause_after_call = agent.pause_after_call, None
            self._set_state(agent, AgentState.PAUSED, reason)
        elif self.settings.wrapup_seconds > 0:
            agent.wrapup_until = now + timedelta(seconds=self.settings.wrapup_seconds)
            self._set_state(agent, AgentState.WRAPUP)
        else:
            self._set_state(agent, AgentState.AVAILABLE)
