"""The ACD's decisions for calls: route, ring outcomes, answers, ends, dispatch, timers.

Every change ends with :meth:`Acd.dispatch` so a free agent never coexists with a
waiting caller of their group.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callcenter.core.acd.agents import AgentStates
from callcenter.core.acd.blending import takes_inbound
from callcenter.core.acd.model import (
    MISSED_CALLS_REASON,
    Agent,
    AgentState,
    Call,
    CallGone,
    CallPhase,
    Dial,
    Wait,
)
from callcenter.core.acd.strategies import Strategies
from callcenter.core.acd.waiting import WaitingList
from callcenter.localtime import local_date


class Acd(AgentStates, WaitingList, Strategies):
    """The ACD's whole state; every method is synchronous and deterministic for a given clock."""

    # ------------------------------------------------------------------ calls
    def arrive(
        self,
        call_id: str,
        group: str,
        *,
        caller: str = "",
        channel: str = "",
        customer_id: int | None = None,
        priority: int = 0,
        sticky_agent_id: int | None = None,
    ) -> Call:
        """Register a call for routing (idempotent: a second ``route`` request reuses it)."""
        call = self.calls.get(call_id)
        if call is None:
            call = Call(
                id=call_id,
                group=group,
                caller=caller,
                channel=channel,
                customer_id=customer_id,
                priority=priority,
                sticky_agent_id=sticky_agent_id,
                arrived_at=self.clock.now(),
                seq=next(self._seq),
            )
            self.calls[call_id] = call
        else:
            call.group = group or call.group
            call.channel = channel or call.channel
        return call

    def route(self, call_id: str) -> Dial | Wait:
        """Decide for a call now: ring someone, or wait (behind callers of higher/equal rank)."""
        call = self._call(call_id)
        if call.phase is CallPhase.RINGING:
            # The dialplan asks again without having reported the last attempt: treat as not taken.
            self.ring_outcome(call_id, "NOANSWER")
        if call.phase is CallPhase.WAITING:
            return Wait(call.id, self.position(call.id))
        ahead = [
            other
            for other in self._waiting(call.group)
            if other.id != call.id and self._rank(other) < self._rank(call)
        ]
        if not ahead:
            dial = self._offer(call)
            if dial is not None:
                return dial
        self._enqueue(call)
        return Wait(call.id, self.position(call.id))

    def ring_outcome(self, call_id: str, status: str) -> None:
        """The dialplan's DIALSTATUS for the last attempt; ANSWER is handled by :meth:`answered`."""
        call = self.calls.get(call_id)
        if call is None or call.phase is not CallPhase.RINGING:
            return
        status = status.upper()
        if status == "ANSWER":
            if len(call.ringing) == 1:
                self.answered(call_id, call.ringing[0])
            return
        ringing, call.ringing = call.ringing, ()
        call.phase = CallPhase.NEW
        counts_as_missed = status == "NOANSWER" and len(ringing) == 1 and not call.sticky_offer
        call.sticky_offer = False
        if status in ("BUSY", "CHANUNAVAIL", "CONGESTION") and len(ringing) == 1:
            failed = self.agents.get(ringing[0])
            if failed is not None:
                failed.blocked_until = self.clock.now() + timedelta(
                    seconds=self.settings.failed_dial_backoff_seconds
                )
        for agent_id in ringing:
            agent = self.agents.get(agent_id)
            if agent is None or agent.call_id != call_id:
                continue
            agent.call_id = None
            if counts_as_missed:
                agent.missed_in_a_row += 1
            if (
                counts_as_missed
                and agent.missed_in_a_row >= self.settings.missed_calls_pause_after > 0
            ):
                agent.pause_after_call = None
                self._set_state(agent, AgentState.PAUSED, MISSED_CALLS_REASON)
            else:
                self._after_ring(agent)

    def answered(self, call_id: str, agent_id: int | None = None) -> None:
        """An agent picked up: they are on the call; others who rang with them are free again."""
        call = self.calls.get(call_id)
        if call is None:
            return
        if agent_id is None:
            if len(call.ringing) != 1:
                return
            agent_id = call.ringing[0]
        if call.phase is CallPhase.CONNECTED:
            if call.passed_on:
                self._take_over(call, agent_id)
            # else another agent answered a consultation (attended transfer): the caller
            # stays with their agent until the transfer completes (:meth:`transferred`)
            return
        for other in call.ringing:
            if other != agent_id:
                other_agent = self.agents.get(other)
                if other_agent is not None and other_agent.call_id == call_id:
                    other_agent.call_id = None
                    self._after_ring(other_agent)
        call.ringing = ()
        call.phase = CallPhase.CONNECTED
        call.agent_id = agent_id
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        agent.call_id = call_id
        self._count_answer(agent)
        self._set_state(agent, AgentState.ON_CALL)

    def call_ended(self, call_id: str) -> CallGone | None:
        """The caller's channel is gone. Returns what is known if no agent had answered."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return None
        now = self.clock.now()
        waited = (now - (call.arrived_at or now)).total_seconds()
        if call.phase is CallPhase.CONNECTED and call.agent_id is not None:
            agent = self.agents.get(call.agent_id)
            if agent is not None and agent.call_id == call_id:
                self._finish_call(agent)
            return None
        if call.phase is CallPhase.CONNECTED:
            return None  # answered; the agent's leg already ended (caller went on, e.g. survey)
        for agent_id in call.ringing:
            agent = self.agents.get(agent_id)
            if agent is not None and agent.call_id == call_id:
                agent.call_id = None
                self._after_ring(agent)
        where = {
            CallPhase.WAITING: "waiting",
            CallPhase.RINGING: "ringing",
            CallPhase.NEW: "routing",
        }[call.phase]
        return CallGone(call.id, call.group, call.caller, call.customer_id, where, waited)

    def agent_call_ended(self, agent_id: int) -> None:
        """The agent's leg ended (the caller may go on to the survey): wrap-up starts now."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.ON_CALL:
            return
        call = self.calls.get(agent.call_id or "")
        if call is not None:
            call.agent_id = None
        self._finish_call(agent)

    def transferred(self, call_id: str, agent_id: int, to_agent_id: int | None = None) -> None:
        """``agent_id`` passed the caller on: their part ends (wrap-up). An attended transfer
        names the agent who now talks to the caller (``to_agent_id``); after a blind one the
        call waits for its target to answer (:meth:`answered`), and ends with the caller."""
        call = self.calls.get(call_id)
        agent = self.agents.get(agent_id)
        if call is None or agent is None or call.agent_id != agent_id:
            return
        call.agent_id = None
        call.passed_on = True
        if agent.call_id == call_id:
            self._finish_call(agent)
        if to_agent_id is not None:
            self._take_over(call, to_agent_id)

    def _take_over(self, call: Call, agent_id: int) -> None:
        """A transferred caller reached ``agent_id``: on the call (counted as answered, their
        pending wrap-up dropped), or back to their pause reason once it ends. An agent who is
        logged out, or ringing/talking for another call, is left as they are."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.call_id is not None:
            return
        if agent.state not in (AgentState.AVAILABLE, AgentState.WRAPUP, AgentState.PAUSED):
            return
        call.passed_on = False
        call.agent_id = agent.id
        agent.call_id = call.id
        agent.wrapup_until = None
        if agent.state is AgentState.PAUSED:
            agent.pause_after_call = agent.reason
        self._count_answer(agent)
        self._set_state(agent, AgentState.ON_CALL)

    def _count_answer(self, agent: Agent) -> None:
        agent.missed_in_a_row = 0
        today = local_date(self.clock.now(), self.settings.zone)
        if agent.calls_day != today:
            agent.calls_day, agent.calls_today = today, 0
        agent.calls_today += 1

    def overflow(self, call_id: str) -> Call:
        """Take a waiting caller out of the ACD (max wait passed: the overflow choice is Asterisk's)."""
        call = self._call(call_id)
        self.calls.pop(call_id, None)
        return call

    # ------------------------------------------------------------------ timers

    def next_timer(self) -> datetime | None:
        """The next instant :meth:`tick` or :meth:`overdue` has work (so the service can sleep)."""
        instants: list[datetime] = [
            agent.wrapup_until
            for agent in self.agents.values()
            if agent.state is AgentState.WRAPUP and agent.wrapup_until is not None
        ]
        for call in self.calls.values():
            if call.phase is CallPhase.WAITING and call.enqueued_at is not None:
                group = self.groups.get(call.group)
                if group is not None and group.max_wait > 0:
                    instants.append(self._wait_start(call) + timedelta(seconds=group.max_wait))
        for agent in self.agents.values():
            if agent.blocked_until is not None and agent.blocked_until > self.clock.now():
                instants.append(agent.blocked_until)
            if agent.page_closed_since is not None:
                instants.append(
                    agent.page_closed_since + timedelta(seconds=self.settings.page_grace_seconds)
                )
        return min(instants) if instants else None

    def dispatch(self) -> list[Dial]:
        """Offer waiting callers (best rank first) to agents who are free now.

        An offer only takes agents, so a group found without a free agent stays so for the
        rest of the pass: its other callers are skipped (a sticky agent is still tried
        once). With hundreds of callers queued for busy agents, asking every caller's group
        for free agents was most of the loop's CPU (the load harness's stretch run)."""
        offers: list[Dial] = []
        no_free: set[str] = set()
        for call in self._waiting(None):
            if call.group in no_free and (call.sticky_done or call.sticky_agent_id is None):
                continue
            dial = self._offer(call)
            if dial is not None:
                offers.append(dial)
            elif not self.free_agents(call.group):
                no_free.add(call.group)
        return offers

    def undelivered(self, dial: Dial) -> None:
        """The Dial/Redirect could not be carried out: free the agents, the caller keeps their place."""
        call = self.calls.get(dial.call_id)
        for agent_id in dial.agent_ids:
            agent = self.agents.get(agent_id)
            if agent is not None and agent.call_id == dial.call_id:
                agent.call_id = None
                self._after_ring(agent)
        if call is not None and call.phase is CallPhase.RINGING:
            call.ringing = ()
            call.sticky_offer = False
            if call.enqueued_at is not None:
                call.phase = CallPhase.WAITING
            else:
                call.phase = CallPhase.NEW

    # ------------------------------------------------------------------ restart
    def adopt_connected(
        self, call_id: str, agent_id: int, *, caller: str = "", channel: str = ""
    ) -> bool:
        """After a restart (or a lost AMI link): a call Asterisk kept connected to a free
        agent while we were away. The agent is on it again, so they are offered nothing
        until it ends, and its end starts their wrap-up as for any call."""
        agent = self.agents.get(agent_id)
        if call_id in self.calls or agent is None or agent.call_id is not None:
            return False
        if agent.state is not AgentState.AVAILABLE:
            return False  # paused or logged out: not offered anything anyway
        self.calls[call_id] = Call(
            id=call_id, group="", caller=caller, channel=channel,
            phase=CallPhase.CONNECTED, agent_id=agent_id,
        )  # fmt: skip
        agent.call_id = call_id
        self._set_state(agent, AgentState.ON_CALL)
        return True

    def restore_waiting(
        self,
        call_id: str,
        group: str,
        *,
        since: datetime,
        caller: str = "",
        channel: str = "",
        priority: int = 0,
        customer_id: int | None = None,
    ) -> Call:
        """Put back a caller found waiting in Asterisk after a restart, with their original wait."""
        call = self.arrive(
            call_id,
            group,
            caller=caller,
            channel=channel,
            customer_id=customer_id,
            priority=priority,
        )
        call.arrived_at = since
        call.enqueued_at = since
        call.phase = CallPhase.WAITING
        return call

    def _offer(self, call: Call) -> Dial | None:
        """Pick agents for ``call`` by its group's strategy; mark them ringing. None if nobody."""
        group = self.groups.get(call.group)
        if group is None:
            return None
        waited = (self.clock.now() - self._wait_start(call)).total_seconds()
        sticky = self._sticky_agent(call)
        if sticky is not None and not takes_inbound(sticky, waited):
            sticky = None  # blending: tried again once the caller has waited long enough
        if sticky is not None:
            call.sticky_done = True
            timeout = min(self.settings.sticky_seconds, group.ring_timeout)
            return self._ring(call, [sticky], timeout, sticky=True)
        candidates = [a for a in self.free_agents(call.group) if takes_inbound(a, waited)]
        untried = [agent for agent in candidates if agent.id not in call.tried]
        if untried:
            candidates = untried
        if not candidates:
            return None
        chosen = self._choose(group, candidates)
        return self._ring(call, chosen, group.ring_timeout)

    def _sticky_agent(self, call: Call) -> Agent | None:
        if call.sticky_done or call.sticky_agent_id is None:
            return None
        agent = self.agents.get(call.sticky_agent_id)
        if agent is None or not self._is_free(agent):
            call.sticky_done = True
            return None
        return agent

    def _ring(
        self, call: Call, agents: list[Agent], timeout: float, *, sticky: bool = False
    ) -> Dial:
        call.phase = CallPhase.RINGING
        call.ringing = tuple(agent.id for agent in agents)
        call.sticky_offer = sticky
        call.tried.update(call.ringing)
        for agent in agents:
            agent.call_id = call.id
            self._set_state(agent, AgentState.RINGING)
        return Dial(
            call_id=call.id,
            agent_ids=call.ringing,
            channels=tuple(agent.channel for agent in agents),
            ring_timeout=timeout,
            sticky=sticky,
        )
