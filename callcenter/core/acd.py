"""Automatic call distribution: agent states, who gets the next call, and who waits.

Pure logic on plain data: no sockets, no database, time only from the injected
:class:`~callcenter.clock.Clock`. The service (``callcenter/services/acd.py``)
feeds it what Asterisk and the agents do and carries out its decisions
(a Dial for the dialplan, a Redirect for a waiting caller, a QueuePause).

Fairness is the first promise to the staff: with ``least_recent`` (the default)
the free agent who has been idle longest since their last call rings first;
``fewest_calls`` prefers whoever answered fewest calls today (local day);
``round_robin`` remembers where it stopped per group; ``ring_all`` rings every
free agent of the group. Callers wait ordered by priority (open ticket / VIP
first), then first come, first served; a free agent never coexists with a
waiting caller of their group because every change ends with :meth:`Acd.dispatch`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.clock import Clock
from callcenter.core.interfaces import interface_key
from callcenter.localtime import DEFAULT_ZONE, local_date


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"


class Strategy(StrEnum):
    LEAST_RECENT = "least_recent"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"


class CallPhase(StrEnum):
    NEW = "new"
    RINGING = "ringing"
    WAITING = "waiting"
    CONNECTED = "connected"


MISSED_CALLS_REASON = "missed_calls"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Dial outcomes (Asterisk ``DIALSTATUS``) that mean "this agent did not take it, try the next".
NOT_TAKEN = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})


class AcdError(Exception):
    """A request the ACD refuses (unknown agent, pause while on a call...), in plain words."""


@dataclass
class AcdSettings:
    wrapup_seconds: float = 30.0
    missed_calls_pause_after: int = 2
    sticky_seconds: float = 8.0
    page_grace_seconds: float = 60.0
    #: after a BUSY / CHANUNAVAIL / CONGESTION dial, skip the phone this long (or until
    #: a device state says it is free again): never ring a busy phone in a loop
    failed_dial_backoff_seconds: float = 30.0
    zone: ZoneInfo = DEFAULT_ZONE


@dataclass
class GroupConfig:
    code: str
    strategy: Strategy = Strategy.FEWEST_CALLS
    ring_timeout: float = 15.0
    max_wait: float = 300.0
    overflow_action: str = "callback"
    #: agent id → member priority (lower rings first when the strategy ties)
    members: dict[int, int] = field(default_factory=dict)


@dataclass
class Agent:
    id: int
    name: str = ""
    interface: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    state_since: datetime | None = None
    login_interface: str = ""
    logged_in_at: datetime | None = None
    last_call_ended_at: datetime | None = None
    calls_today: int = 0
    calls_day: date | None = None
    missed_in_a_row: int = 0
    phone_registered: bool = True
    phone_busy: bool = False
    page_closed_since: datetime | None = None
    wrapup_until: datetime | None = None
    blocked_until: datetime | None = None
    call_id: str | None = None
    pause_after_call: str | None = None

    @property
    def channel(self) -> str:
        """The phone to ring: the one picked at login (hot-desking), else the configured one."""
        return self.login_interface or self.interface


@dataclass
class Call:
    id: str
    group: str
    caller: str = ""
    channel: str = ""
    customer_id: int | None = None
    priority: int = 0
    sticky_agent_id: int | None = None
    arrived_at: datetime | None = None
    enqueued_at: datetime | None = None
    seq: int = 0
    phase: CallPhase = CallPhase.NEW
    tried: set[int] = field(default_factory=set)
    ringing: tuple[int, ...] = ()
    sticky_offer: bool = False
    sticky_done: bool = False
    agent_id: int | None = None


@dataclass(frozen=True)
class Dial:
    """Ring these agents' phones for ``ring_timeout`` seconds (several = ring all)."""

    call_id: str
    agent_ids: tuple[int, ...]
    channels: tuple[str, ...]
    ring_timeout: float
    sticky: bool = False

    @property
    def dial_string(self) -> str:
        return "&".join(self.channels)


@dataclass(frozen=True)
class Wait:
    """Nobody is free: the caller waits in Asterisk at ``position`` (1 = next)."""

    call_id: str
    position: int


@dataclass(frozen=True)
class StateChange:
    agent_id: int
    previous: AgentState
    state: AgentState
    reason: str
    interface: str
    at: datetime


@dataclass(frozen=True)
class WaitingCaller:
    call_id: str
    group: str
    caller: str
    channel: str
    priority: int
    enqueued_at: datetime
    waited_seconds: float


@dataclass(frozen=True)
class CallGone:
    """What the ACD knew about a call that ended before an agent answered it."""

    call_id: str
    group: str
    caller: str
    customer_id: int | None
    abandoned_while: str  # "waiting", "ringing", "routing", "connected"
    waited_seconds: float


StateListener = Callable[[StateChange], None]


class Acd:
    """The ACD's whole state; every method is synchronous and deterministic for a given clock."""

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
        for agent in self.agents.values():
            if agent.channel and interface_key(agent.channel) == interface_key(interface):
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
        agent.missed_in_a_row = 0
        today = local_date(self.clock.now(), self.settings.zone)
        if agent.calls_day != today:
            agent.calls_day, agent.calls_today = today, 0
        agent.calls_today += 1
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

    def overflow(self, call_id: str) -> Call:
        """Take a waiting caller out of the ACD (max wait passed: the overflow choice is Asterisk's)."""
        call = self._call(call_id)
        self.calls.pop(call_id, None)
        return call

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

    def overdue(self) -> list[Call]:
        """Waiting callers who reached their group's maximum wait (oldest first)."""
        now = self.clock.now()
        late: list[Call] = []
        for call in self._waiting(None):
            group = self.groups.get(call.group)
            if group is None or group.max_wait <= 0:
                continue
            if (now - self._wait_start(call)).total_seconds() >= group.max_wait:
                late.append(call)
        return late

    def dispatch(self) -> list[Dial]:
        """Offer waiting callers (best rank first) to agents who are free now."""
        offers: list[Dial] = []
        for call in self._waiting(None):
            dial = self._offer(call)
            if dial is not None:
                offers.append(dial)
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

    def waiting(self, group_code: str | None = None) -> list[WaitingCaller]:
        now = self.clock.now()
        return [
            WaitingCaller(
                call_id=call.id,
                group=call.group,
                caller=call.caller,
                channel=call.channel,
                priority=call.priority,
                enqueued_at=self._wait_start(call),
                waited_seconds=(now - self._wait_start(call)).total_seconds(),
            )
            for call in self._waiting(group_code)
        ]

    def position(self, call_id: str) -> int:
        call = self._call(call_id)
        for index, other in enumerate(self._waiting(call.group), start=1):
            if other.id == call_id:
                return index
        return 0

    def queue_counters(self) -> dict[str, dict[str, float]]:
        """Per group: callers waiting and the longest wait in seconds (for wallboards)."""
        counters: dict[str, dict[str, float]] = {
            code: {"waiting": 0, "longest_wait": 0.0} for code in self.groups
        }
        for caller in self.waiting():
            entry = counters.setdefault(caller.group, {"waiting": 0, "longest_wait": 0.0})
            entry["waiting"] += 1
            entry["longest_wait"] = max(entry["longest_wait"], caller.waited_seconds)
        return counters

    # ------------------------------------------------------------------ internals
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

    def _wait_start(self, call: Call) -> datetime:
        return call.enqueued_at or call.arrived_at or self.clock.now()

    @staticmethod
    def _rank(call: Call) -> tuple[int, datetime | None, int]:
        return (-call.priority, call.enqueued_at or call.arrived_at, call.seq)

    def _waiting(self, group_code: str | None) -> list[Call]:
        calls = [
            call
            for call in self.calls.values()
            if call.phase is CallPhase.WAITING and (group_code is None or call.group == group_code)
        ]
        calls.sort(key=lambda call: (-call.priority, self._wait_start(call), call.seq))
        return calls

    def _enqueue(self, call: Call) -> None:
        if call.phase is not CallPhase.WAITING:
            call.phase = CallPhase.WAITING
            if call.enqueued_at is None:
                call.enqueued_at = call.arrived_at or self.clock.now()

    def _offer(self, call: Call) -> Dial | None:
        """Pick agents for ``call`` by its group's strategy; mark them ringing. None if nobody."""
        group = self.groups.get(call.group)
        if group is None:
            return None
        sticky = self._sticky_agent(call)
        if sticky is not None:
            call.sticky_done = True
            timeout = min(self.settings.sticky_seconds, group.ring_timeout)
            return self._ring(call, [sticky], timeout, sticky=True)
        candidates = self.free_agents(call.group)
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

    def _choose(self, group: GroupConfig, candidates: list[Agent]) -> list[Agent]:
        members = group.members
        if group.strategy is Strategy.RING_ALL:
            return sorted(candidates, key=lambda agent: (members.get(agent.id, 0), agent.id))
        if group.strategy is Strategy.ROUND_ROBIN:
            order = sorted(members, key=lambda agent_id: (members[agent_id], agent_id))
            free = {agent.id: agent for agent in candidates}
            last = self._round_robin_last.get(group.code)
            start = order.index(last) + 1 if last in order else 0
            for agent_id in order[start:] + order[:start]:
                if agent_id in free:
                    self._round_robin_last[group.code] = agent_id
                    return [free[agent_id]]
            return []
        today = local_date(self.clock.now(), self.settings.zone)
        if group.strategy is Strategy.FEWEST_CALLS:
            return [
                min(
                    candidates,
                    key=lambda agent: (
                        self._calls_on(agent, today),
                        self._idle_since(agent),
                        members.get(agent.id, 0),
                        agent.id,
                    ),
                )
            ]
        # least_recent: equal idle clocks (a shift logged in at one instant, a restart) go to
        # whoever answered fewer today, then member priority; the agent id only makes it total.
        return [
            min(
                candidates,
                key=lambda agent: (
                    self._idle_since(agent),
                    self._calls_on(agent, today),
                    members.get(agent.id, 0),
                    agent.id,
                ),
            )
        ]

    @staticmethod
    def _calls_on(agent: Agent, day: date) -> int:
        return agent.calls_today if agent.calls_day == day else 0

    @staticmethod
    def _idle_since(agent: Agent) -> datetime:
        """The least-recent clock: when the agent's last answered call ended (else login).

        Asterisk's ``leastrecent`` ("least recently hung up by this queue"). Wrap-up is
        the same for everyone so it does not change the order, and ending it early does
        not jump the line. A missed ring, a busy phone or a pause never moves this clock:
        letting a phone ring out must not send the agent to the back of the line.
        """
        return agent.last_call_ended_at or agent.logged_in_at or _EPOCH
