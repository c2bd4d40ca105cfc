"""The live side of the agent page: turns domain events into per-agent messages.

The desk subscribes to the in-process bus. When the ACD offers a call to an
agent (``call_offered``, published as the FastAGI route decision is made) it
builds the whole screen-pop — history included — and queues it for that
agent's open pages only. To stay inside one round-trip, the caller's history
is loaded at most once per call and can be prefetched as soon as the call
starts (the tracker's ``call_started``, or :meth:`AgentDesk.prefetch`), before
an agent is even chosen. The desk also remembers each agent's current call, state and
counters so a page that reconnects (network drop, daemon restart) gets a full
``sync`` message instead of a reload, and it saves an "uncategorized" ticket
when the wrap-up time runs out before the agent saves.

It is this room's bus consumer (``bus_consume.py`` in the room pattern), named for what it
holds. It stays one module of about 800 lines on purpose: the per-agent state, the pop, the
resync and the wrap-up end all read and change the same per-agent records, and the wrap-up
ends through one path keyed by the call (``_finish_wrapup``); splitting them would spread
that race-sensitive path over files.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import localtime
from callcenter.agent_desk.hub import AgentHub
from callcenter.clock import Clock
from callcenter.core.bus import EventBus
from callcenter.core.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerIdChanged,
    CallOffered,
    CallOfferEnded,
    CallStarted,
    QueueChanged,
)
from callcenter.core.interfaces import interface_key
from callcenter.core.phones import Phone, normalize_phone
from callcenter.core.roles import Role
from callcenter.core.screenpop import EMPTY_HISTORY, CallerHistory, CallOffer, build_pop
from callcenter.core.tickets import plan_timed_out
from callcenter.db.models import AgentGroup, AgentGroupMember, Call, User
from callcenter.db.repos import history as history_repo
from callcenter.db.repos import tickets as ticket_repo
from callcenter.db.repos.calls import agent_ids_by_interface
from callcenter.db.repos.routing import load_system_settings
from callcenter.services.acd import AgentStatus, RingingOffer
from callcenter.services.caller_lookup import CallerLookups

log = logging.getLogger(__name__)

PREFETCH_TTL_SECONDS = 600.0
#: How long a pop waits for the caller's history before it goes out without it (marked
#: ``history_pending``; the full pop follows when the history arrives). The agent must see
#: who calls while the phone rings, even when the database is slow (issue 19).
POP_HISTORY_WAIT_SECONDS = 0.15
#: Agent states that end a wrap-up (paused or logged out keep the form until its time is up).
FREED_STATES = frozenset({"available", "ringing", "on_call"})
#: The agent pages' queue counters are pushed at most this often (the newest always).
COUNTERS_PUSH_SECONDS = 0.5
#: a call record's id and customer by linkedid (built once: it runs on every wrap-up)
_CALL_OF = select(Call.id, Call.customer_id).where(Call.linkedid == bindparam("linkedid"))


class AcdView(Protocol):
    """What the desk needs from the ACD service (``services.acd.AcdService``): read its
    agents and offers, report the pages; never its internal objects."""

    @property
    def wrapup_seconds(self) -> float: ...

    def agent_status(self, agent_id: int) -> AgentStatus | None: ...

    def agent_at_phone(self, interface: str) -> int | None: ...

    def ringing_offer(self, agent_id: int) -> RingingOffer | None: ...

    def page_status(self, agent_id: int, *, open_: bool) -> None: ...

    async def end_wrapup(self, agent_id: int) -> None: ...


@dataclass
class LiveCall:
    """The call an agent's page shows now: ringing, talking or in wrap-up."""

    linkedid: str
    pop: dict[str, Any]
    phase: str = "ringing"  # ringing, talking, wrapup
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wrapup_deadline: datetime | None = None
    customer_id: int | None = None
    caller_channel: str = ""
    agent_channel: str = ""
    draft_notes: str = ""
    muted: bool = False
    parked_at: str = ""
    timeout_task: asyncio.Task[None] | None = None
    #: the end of this call's wrap-up, once begun (it runs once, whoever starts it)
    wrapup_end: asyncio.Task[int | None] | None = None
    #: what the pop was built from (refreshed when the caller ID becomes known)
    offer: CallOffer | None = None


@dataclass
class AgentLive:
    user_id: int
    role: Role = Role.AGENT
    state: str = "logged_out"
    reason: str = ""
    state_since: datetime | None = None
    groups: frozenset[str] = frozenset()
    calls_today: int = 0
    calls_day: Any = None
    call: LiveCall | None = None
    counters_sent: tuple[int, int, int] | None = None


@dataclass
class CallInfo:
    """What the PBX told us about a call when it started (before any agent was chosen)."""

    caller_number: str | None = None
    caller_name: str = ""
    dialed_number: str = ""
    caller_channel: str = ""
    started: float = 0.0


@dataclass
class _Prefetch:
    task: asyncio.Task[tuple[int | None, CallerHistory]]
    started: float = field(default_factory=time.monotonic)
    number: str | None = None  # whose history it loads


class AgentDesk:
    """Per-agent live state and the screen-pop pipeline (one per application)."""

    def __init__(
        self,
        hub: AgentHub,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        zone: Any = localtime.DEFAULT_ZONE,
        wrapup_seconds: Callable[[], Awaitable[float]] | None = None,
    ) -> None:
        self.hub = hub
        self.sessions = sessions
        #: who calls, loaded once per call; the ACD's when it runs (the plugin shares it)
        self.lookups = CallerLookups(sessions)
        self.clock = clock
        self.zone = zone
        self.agents: dict[int, AgentLive] = {}
        self.queue_counters: dict[str, dict[str, float]] = {}
        self.queue_counters_at: datetime | None = None
        self._counters_signature: tuple[Any, ...] | None = None
        self._counters_pushed_at = float("-inf")  # loop time of the last walk
        self._counters_timer: asyncio.TimerHandle | None = None
        self._prefetch: dict[str, _Prefetch] = {}
        self.calls: dict[str, CallInfo] = {}
        self.interfaces: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._wrapup_seconds = wrapup_seconds or self._wrapup_seconds_from_db
        self.pop_history_wait = POP_HISTORY_WAIT_SECONDS
        #: The ACD service (``callcenter.services.acd.AcdService``) when the daemon runs one:
        #: its route decision is the moment to pop, and it owns the agents' states.
        self.acd: AcdView | None = None
        #: The AMI call tracker (live calls and their channels) when the daemon has one.
        self.tracker: Any = None

    # ------------------------------------------------------------------ lifecycle
    def subscribe(self, bus: EventBus) -> None:
        self._unsubscribe += [
            bus.subscribe(CallStarted, self._on_call_started),
            bus.subscribe(CallerIdChanged, self._on_caller_id_changed),
            bus.subscribe(CallOffered, self._on_call_offered),
            bus.subscribe(CallAnswered, self._on_call_answered),
            bus.subscribe(CallOfferEnded, self._on_call_offer_ended),
            bus.subscribe(CallEnded, self._on_call_ended),
            bus.subscribe(AgentStateChanged, self._on_agent_state_changed),
            bus.subscribe(QueueChanged, self._on_queue_counters),
        ]

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._counters_timer is not None:
            self._counters_timer.cancel()
            self._counters_timer = None
        for task in list(self._tasks):
            task.cancel()
        for entry in self._prefetch.values():
            entry.task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent desk task %s failed", task.get_name(), exc_info=task.exception())

    def agent(self, user_id: int) -> AgentLive:
        live = self.agents.get(user_id)
        if live is None:
            live = self.agents[user_id] = AgentLive(user_id)
        return live

    # ------------------------------------------------------------------ history
    async def _load_history(
        self, number: str | None, customer_id: int | None
    ) -> tuple[int | None, CallerHistory]:
        if number is None:
            return None, EMPTY_HISTORY
        if customer_id is None:  # the load routing shares (services.caller_lookup)
            found = await asyncio.shield(self.lookups.load(number))
            return found.customer_id, found.history
        async with self.sessions() as session:
            return customer_id, await history_repo.load_history(session, customer_id)

    def prefetch(
        self, linkedid: str, caller_number: str | None, customer_id: int | None = None
    ) -> None:
        """Start loading a caller's history now, so the pop needs no database round-trip later."""
        if linkedid in self._prefetch:
            return
        self._expire_prefetches()
        task = asyncio.ensure_future(self._load_history(caller_number, customer_id))
        self._prefetch[linkedid] = _Prefetch(task, number=caller_number)

    def _expire_prefetches(self) -> None:
        limit = time.monotonic() - PREFETCH_TTL_SECONDS
        for linkedid in [k for k, v in self._prefetch.items() if v.started < limit]:
            self._prefetch.pop(linkedid).task.cancel()
        for linkedid in [k for k, v in self.calls.items() if v.started < limit]:
            del self.calls[linkedid]

    async def history_for(
        self, linkedid: str, number: str | None, customer_id: int | None
    ) -> tuple[int | None, CallerHistory]:
        entry = self._prefetch.get(linkedid)
        if entry is not None and entry.number is None and number is not None:
            entry = None  # loaded before the caller ID was known: it found nobody
        if entry is not None:
            try:
                return await asyncio.shield(entry.task)
            except Exception:
                log.exception("history prefetch for %s failed; loading again", linkedid)
                self._prefetch.pop(linkedid, None)
        return await self._load_history(number, customer_id)

    # ------------------------------------------------------------------ event intake
    @staticmethod
    def _number(raw: Any) -> str | None:
        result = normalize_phone(raw if raw is None else str(raw))
        return result.e164 if isinstance(result, Phone) else None

    def learn_interface(self, interface: str, user_id: int) -> None:
        """Remember which agent sits at a phone (configured, or picked at login)."""
        if interface:
            self.interfaces[interface_key(interface)] = user_id

    def _agent_id(self, interface: str) -> int | None:
        """The agent at the phone ``interface`` (an agent's configured or logged-in phone)."""
        interface = interface_key(interface)
        if not interface:
            return None
        known = self.interfaces.get(interface)
        if known is None and self.acd is not None:
            known = self.acd.agent_at_phone(interface)
            if known is not None:
                self.interfaces[interface] = known
        return known

    async def load_interfaces(self) -> None:
        """Who sits at which phone, from the users' configured phones (before any event)."""
        async with self.sessions() as session:
            for interface, user_id in (await agent_ids_by_interface(session)).items():
                self.interfaces.setdefault(interface_key(interface), user_id)

    def _on_call_started(self, event: CallStarted) -> None:
        """A call entered the PBX: remember who calls and start loading their history."""
        linkedid = event.linkedid
        if not linkedid:
            return
        number = self._number(event.caller_number)
        self.calls[linkedid] = CallInfo(
            caller_number=number,
            caller_name=event.caller_name,
            dialed_number=event.dialed_number,
            caller_channel=event.channel,
            started=time.monotonic(),
        )
        self.prefetch(linkedid, number)

    def _on_caller_id_changed(self, event: CallerIdChanged) -> None:
        """The caller ID became known after the call started (entry through a Local
        channel): load the right history, and rebuild a pop already shown without it."""
        number = self._number(event.caller_number)
        info = self.calls.get(event.linkedid)
        if info is not None:
            if number != info.caller_number:
                entry = self._prefetch.pop(event.linkedid, None)
                if entry is not None:
                    entry.task.cancel()
                self.prefetch(event.linkedid, number)
            info.caller_number, info.caller_name = number, event.caller_name
        for live in self.agents.values():
            call = live.call
            if call is None or call.linkedid != event.linkedid or call.offer is None:
                continue
            if call.phase != "ringing" and call.pop:
                continue  # answered: the agent already works with what was shown
            old = call.offer
            fresh = dataclasses.replace(
                old,
                caller_number=number or old.caller_number,
                caller_name=event.caller_name or old.caller_name,
            )
            if fresh == old:
                continue
            call.offer = fresh
            keep = None if fresh.caller_number != old.caller_number else call.customer_id
            self._spawn(self._send_pop(fresh, keep, None), f"pop-refresh-{event.linkedid}")

    def _on_call_offered(self, event: CallOffered) -> None:
        """The call rings an agent's phone: pop it on that agent's page, history included."""
        agent_id = self._agent_id(event.interface)
        if agent_id is None or not event.linkedid:
            return
        self.offer(
            event.linkedid,
            agent_id,
            {
                "at": event.at,
                "interface": event.interface,
                "agent_channel": event.channel,
                "queue": event.queue,
                "caller_number": event.caller_number,
                "caller_channel": event.caller_channel,
            },
        )

    def offer(self, linkedid: str, agent_id: int, data: dict[str, Any]) -> None:
        """Pop ``linkedid`` on ``agent_id``'s page (once per offer; later news only updates)."""
        live = self.agent(agent_id)
        agent_channel = str(data.get("agent_channel") or data.get("channel") or "")
        if live.call is not None and live.call.linkedid == linkedid:
            live.call.agent_channel = agent_channel or live.call.agent_channel
            return
        if live.call is not None and live.call.phase in ("talking", "wrapup"):
            self._finish_wrapup(live, live.call)  # a handled call is never replaced unsaved
        info = self.calls.get(linkedid) or CallInfo()
        raw_number = data.get("caller_number")
        number = self._number(raw_number) if raw_number is not None else info.caller_number
        offered_at = data.get("at") or self.clock.now()
        ring_timeout = data.get("ring_timeout")
        offer = CallOffer(
            linkedid=linkedid,
            agent_id=agent_id,
            caller_number=number,
            caller_name=str(data.get("caller_name") or info.caller_name),
            dialed_number=str(data.get("dialed_number") or info.dialed_number),
            offered_at=offered_at,
            ring_timeout_seconds=None if ring_timeout is None else int(ring_timeout),
            group=str(data.get("group") or data.get("queue") or ""),
        )
        live.call = LiveCall(
            linkedid=linkedid,
            pop={},
            offered_at=offered_at,
            caller_channel=str(data.get("caller_channel") or info.caller_channel),
            agent_channel=agent_channel,
            offer=offer,
        )
        self._spawn(
            self._send_pop(offer, data.get("customer_id"), data.get("route_started")),
            f"pop-{linkedid}-{agent_id}",
        )

    async def _send_pop(
        self, offer: CallOffer, customer_id: int | None, route_started: float | None
    ) -> None:
        loading = asyncio.ensure_future(
            self.history_for(offer.linkedid, offer.caller_number, customer_id)
        )
        try:
            async with asyncio.timeout(self.pop_history_wait):
                found = await asyncio.shield(loading)
        except TimeoutError:
            # Slow database: the agent sees who calls now, the history when it comes.
            self._deliver_pop(offer, None, EMPTY_HISTORY, route_started, pending=True)
            found = await loading
        except BaseException:
            loading.cancel()
            raise
        self._deliver_pop(offer, *found, route_started, pending=False)

    def _deliver_pop(
        self,
        offer: CallOffer,
        customer_id: int | None,
        history: CallerHistory,
        route_started: float | None,
        *,
        pending: bool,
    ) -> None:
        live = self.agent(offer.agent_id)
        call = live.call
        if call is None or call.linkedid != offer.linkedid:
            return  # the offer ended (answered elsewhere, caller gone) while history loaded
        pop = build_pop(offer, history, viewer_role=live.role, zone=self.zone)
        if pending:
            pop["history_pending"] = True
            pop["quick_create"] = None  # not known yet whether the caller is a customer
        call.pop = pop
        call.customer_id = customer_id if not pending else call.customer_id
        message = {**pop, "phase": call.phase}
        if route_started is not None:
            message["route_started"] = route_started
        self.hub.send_to_agent(offer.agent_id, message)

    def _live_call(self, linkedid: str, interface: str) -> tuple[AgentLive, LiveCall] | None:
        agent_id = self._agent_id(interface)
        if agent_id is None:
            return None
        live = self.agents.get(agent_id)
        if live is None or live.call is None or live.call.linkedid != linkedid:
            return None
        return live, live.call

    def _on_call_answered(self, event: CallAnswered) -> None:
        found = self._live_call(event.linkedid, event.interface)
        if found is None:
            found = self._adopt_answered(event)
        if found is None:
            return
        live, call = found
        call.phase = "talking"
        call.answered_at = event.at or self.clock.now()
        call.agent_channel = event.agent_channel or call.agent_channel
        call.caller_channel = event.caller_channel or call.caller_channel
        today = localtime.local_date(self.clock.now(), self.zone)
        if live.calls_day != today:
            live.calls_day, live.calls_today = today, 0
        live.calls_today += 1
        self.hub.send_to_agent(live.user_id, self._call_message(live))
        counters = self._counters_message(live)
        live.counters_sent = self._counters_key(counters)
        self.hub.send_to_agent(live.user_id, counters)

    def _adopt_answered(self, event: CallAnswered) -> tuple[AgentLive, LiveCall] | None:
        """An answered call we never offered: after a daemon restart (the tracker's resync
        reports calls already talking) or a call the fallback queue gave the agent. Pop it
        now so the agent's page shows the call it is on."""
        agent_id = self._agent_id(event.interface)
        linkedid = event.linkedid
        if agent_id is None or not linkedid:
            return None
        live = self.agent(agent_id)
        if live.call is not None and live.call.phase != "ringing":
            return None  # busy with (the wrap-up of) another call
        data: dict[str, Any] = {
            "at": event.at,
            "interface": event.interface,
            "caller_number": event.caller_number,
            "agent_channel": event.agent_channel,
            "caller_channel": event.caller_channel,
            **self._channels_from_tracker(linkedid, event.interface),
        }
        self.offer(linkedid, agent_id, data)
        assert live.call is not None
        return live, live.call

    def _channels_from_tracker(self, linkedid: str, interface: str) -> dict[str, Any]:
        """Caller and agent channels of a live call, as the call tracker knows them."""
        record = None if self.tracker is None else self.tracker.active_calls.get(linkedid)
        if record is None:
            return {}
        found: dict[str, Any] = {"caller_channel": record.caller_channel}
        if record.caller_number:
            found["caller_number"] = record.caller_number
        if record.caller_name:
            found["caller_name"] = record.caller_name
        if record.dialed_number:
            found["dialed_number"] = record.dialed_number
        for attempt in record.attempts:
            answered = attempt.outcome == "answered"
            if answered and interface_key(attempt.interface) == interface_key(interface):
                found["agent_channel"] = attempt.channel
        return found

    def _on_call_offer_ended(self, event: CallOfferEnded) -> None:
        """The phone stopped ringing without this agent answering: clear the pop."""
        found = self._live_call(event.linkedid, event.interface)
        if found is None or found[1].phase != "ringing":
            return
        live, call = found
        live.call = None
        self.hub.send_to_agent(
            live.user_id,
            {
                "type": "offer_ended",
                "linkedid": call.linkedid,
                "outcome": event.outcome,
            },
        )

    def _on_call_ended(self, event: CallEnded) -> None:
        linkedid = event.linkedid
        info = self.calls.pop(linkedid, None)
        if info is not None:  # the caller's next call loads what this one left
            self.lookups.forget(info.caller_number)
        entry = self._prefetch.pop(linkedid, None)
        if entry is not None and not entry.task.done():
            entry.task.cancel()
        for live in list(self.agents.values()):
            call = live.call
            if call is None or call.linkedid != linkedid:
                continue
            if call.phase == "ringing":
                live.call = None
                self.hub.send_to_agent(
                    live.user_id, {"type": "offer_ended", "linkedid": linkedid, "outcome": "gone"}
                )
            elif call.phase == "talking":
                self._begin_wrapup(live, call, event.at or self.clock.now())

    def _begin_wrapup(self, live: AgentLive, call: LiveCall, at: datetime) -> None:
        call.phase = "wrapup"
        call.ended_at = at
        self._spawn(self._start_wrapup(live, call), f"wrapup-{call.linkedid}")

    async def _start_wrapup(self, live: AgentLive, call: LiveCall) -> None:
        seconds = await self._wrapup_seconds()
        assert call.ended_at is not None
        call.wrapup_deadline = call.ended_at + timedelta(seconds=seconds)
        self.hub.send_to_agent(live.user_id, self._call_message(live))
        left = (call.wrapup_deadline - self.clock.now()).total_seconds()
        call.timeout_task = self._spawn(
            self._wrapup_timeout(live.user_id, call, max(0.0, left)),
            f"wrapup-timeout-{call.linkedid}",
        )

    async def _wrapup_timeout(self, user_id: int, call: LiveCall, seconds: float) -> None:
        await self.clock.sleep(seconds)
        await self.wrapup_time_up(user_id, call.linkedid)

    async def wrapup_time_up(self, user_id: int, linkedid: str) -> None:
        """The page's wrap-up time for ``linkedid`` ran out: save, then free the agent.

        The ACD's own wrap-up end falls due at the same instant; whichever comes first
        ends the call's wrap-up (:meth:`_finish_wrapup`), the other finds it ended.
        """
        live = self.agents.get(user_id)
        call = live.call if live is not None else None
        if live is None or call is None or call.linkedid != linkedid or call.phase != "wrapup":
            return  # saved by the agent, or already ended by the ACD or the next offer
        await self._finish_wrapup(live, call)
        if live.state == "wrapup" and live.call is None:
            await self._end_wrapup(user_id)

    def _finish_wrapup(self, live: AgentLive, call: LiveCall) -> asyncio.Task[int | None]:
        """End ``call``'s wrap-up once, whoever gets there first (the page's timer, the ACD
        freeing the agent, the next offer): the call leaves the desk now, so a call that
        rings next is neither cleared nor popped twice, and its "uncategorized" ticket is
        saved unless the agent saved one (lost work otherwise)."""
        if call.wrapup_end is not None:
            return call.wrapup_end
        if live.call is call:
            live.call = None
        if call.timeout_task is not None and call.timeout_task is not asyncio.current_task():
            call.timeout_task.cancel()
        call.wrapup_end = self._spawn(
            self._save_ended_wrapup(live.user_id, call), f"wrapup-end-{call.linkedid}"
        )
        return call.wrapup_end

    async def _save_ended_wrapup(self, user_id: int, call: LiveCall) -> int | None:
        try:
            ticket_id = await self.save_timed_out(user_id, call)
        except ticket_repo.AlreadyWrappedUp:
            ticket_id = None  # the agent saved it meanwhile
        self.hub.send_to_agent(
            user_id,
            {"type": "wrapup_timed_out", "linkedid": call.linkedid, "ticket_id": ticket_id},
        )
        return ticket_id

    async def save_timed_out(self, user_id: int, call: LiveCall) -> int | None:
        now = self.clock.now()
        async with self.sessions() as session:
            row = (await session.execute(_CALL_OF, {"linkedid": call.linkedid})).first()
            if row is None:
                log.warning(
                    "wrap-up timed out for %s but the call record is missing", call.linkedid
                )
                return None
            call_id, stored_customer_id = row
            ticket = await ticket_repo.apply_plan(
                session,
                plan_timed_out(notes=call.draft_notes, now=now),
                call_id=call_id,
                customer_id=call.customer_id,
                user_id=user_id,
                now=now,
                timed_out=True,
            )
            # Set after apply_plan's reads so it does not take the write lock early.
            if stored_customer_id is None and call.customer_id is not None:
                await session.execute(  # the caller the pop identified
                    update(Call).where(Call.id == call_id).values(customer_id=call.customer_id)
                )
            await session.commit()
            return ticket.id

    def wrapup_saved(self, user_id: int, linkedid: str) -> None:
        """The agent saved the wrap-up: stop the timer, clear the call, free the agent."""
        live = self.agents.get(user_id)
        if live is None or live.call is None or live.call.linkedid != linkedid:
            return
        call = live.call
        if call.timeout_task is not None:
            call.timeout_task.cancel()
        if call.phase == "wrapup":
            live.call = None
            if self.acd is not None and live.state == "wrapup":
                self._spawn(self._end_wrapup(user_id), f"end-wrapup-{user_id}")
        else:
            call.pop = {**call.pop, "saved": True}

    async def _end_wrapup(self, user_id: int) -> None:
        if self.acd is None:
            return
        try:
            await self.acd.end_wrapup(user_id)
        except Exception as exc:  # AcdError: the wrap-up already ended (timer or agent)
            log.info("end of wrap-up for agent %s: %s", user_id, exc)

    def _on_agent_state_changed(self, event: AgentStateChanged) -> None:
        live = self.agent(event.agent_id)
        self.learn_interface(event.interface, live.user_id)
        live.state = event.state
        live.reason = event.reason
        live.state_since = event.at or self.clock.now()
        self.hub.send_to_agent(live.user_id, self._state_message(live))
        call = live.call
        if call is not None and call.phase == "wrapup" and live.state in FREED_STATES:
            # The ACD ended the wrap-up (its timer, or the agent made themself available)
            # before the page's timer: end it here, before the next call is offered.
            self._finish_wrapup(live, call)
        if live.state == "ringing":
            self._offer_from_route_decision(live.user_id, event)
        if live.state == "wrapup" and call is not None and call.phase == "talking":
            # The agent's leg ended (the caller may go on to the survey): wrap-up starts now.
            self._begin_wrapup(live, call, live.state_since)

    def _offer_from_route_decision(self, agent_id: int, event: AgentStateChanged) -> None:
        """The ACD just picked this agent (inside the FastAGI route request): pop now.

        This is the earliest moment the agent is known, before Asterisk even
        starts to ring the phone; the tracker's later ``call_offered`` for the
        same call only adds the agent's channel.
        """
        ringing = self.acd.ringing_offer(agent_id) if self.acd is not None else None
        if ringing is None:
            return
        offer: dict[str, Any] = {
            "at": event.at,
            "caller_number": ringing.caller_number,
            "customer_id": ringing.customer_id,
            "caller_channel": ringing.caller_channel,
            "dialed_number": ringing.hotline,
            "group": ringing.group,
            "ring_timeout": ringing.ring_timeout,
            "interface": event.interface,
            "agent_channel": "",
        }
        if ringing.caller_name:
            offer["caller_name"] = ringing.caller_name
        # The call's Linkedid, as AMI events and the call record name it (not the FastAGI
        # channel's uniqueid, which differs when the call entered through a Local channel).
        self.offer(ringing.linkedid or ringing.call_id, agent_id, offer)

    def _on_queue_counters(self, event: QueueChanged) -> None:
        """Keep the newest counters; the pages get them at most every
        ``COUNTERS_PUSH_SECONDS``, the last change of a burst included: with a long queue the
        ACD's every change moves the waiting count, and a walk over every agent per change
        (a message to each page) was a third of the ACD's passes in bench/load.py's stretch."""
        self.queue_counters = {str(k): dict(v) for k, v in event.groups.items()}
        self.queue_counters_at = event.at or self.clock.now()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published outside the loop: nothing to batch with
            self._push_counters()
            return
        wait = self._counters_pushed_at + COUNTERS_PUSH_SECONDS - loop.time()
        if wait <= 0:
            self._push_counters()
        elif self._counters_timer is None:
            self._counters_timer = loop.call_later(wait, self._push_counters)

    def _push_counters(self) -> None:
        """Send each connected page its counters, where what it shows changed."""
        self._counters_timer = None
        with contextlib.suppress(RuntimeError):
            self._counters_pushed_at = asyncio.get_running_loop().time()
        # The ACD publishes after every change; most leave an agent's counters as they
        # were. Send only what changed, so 300 pages do not get 300 copies per event.
        now = self.clock.now()
        today = localtime.local_date(now, self.zone)
        as_of = self.queue_counters_at or now
        # Most changes (an agent's state, a call answered) leave every group's waiting
        # count and longest wait as they were: then no page's counters can change (a page
        # gets its own on connect, its calls today when they change), so skip the walk
        # over every agent (issue 19: it was 3 % of the daemon's CPU at 40 calls/s).
        signature = (
            today,
            tuple(
                sorted(
                    (
                        code,
                        int(entry.get("waiting", 0)),
                        round(as_of.timestamp() - float(entry.get("longest_wait", 0.0)))
                        if entry.get("waiting")
                        else 0,
                    )
                    for code, entry in self.queue_counters.items()
                )
            ),
        )
        if signature == self._counters_signature:
            return
        self._counters_signature = signature
        totals: dict[frozenset[str], tuple[int, float]] = {}
        for live in self.agents.values():
            if not self.hub.is_connected(live.user_id):
                continue
            found = totals.get(live.groups)
            if found is None:
                found = totals[live.groups] = self._group_totals(live.groups)
            waiting, longest = found
            calls_today = live.calls_today if live.calls_day == today else 0
            began = round(as_of.timestamp() - longest) if waiting else 0
            key = (waiting, began, calls_today)
            if key != live.counters_sent:
                live.counters_sent = key
                self.hub.send_to_agent(live.user_id, self._counters_message(live))

    def _group_totals(self, groups: frozenset[str]) -> tuple[int, float]:
        """Callers waiting in these groups and the longest wait among them (seconds)."""
        waiting = 0
        longest = 0.0
        for code in groups:
            entry = self.queue_counters.get(code)
            if entry:
                waiting += int(entry.get("waiting", 0))
                longest = max(longest, float(entry.get("longest_wait", 0.0)))
        return waiting, round(longest, 1)

    def _counters_key(self, message: dict[str, Any]) -> tuple[int, int, int]:
        """What the page shows: waiting count, when the longest wait began (s), calls today."""
        as_of = self.queue_counters_at or self.clock.now()
        began = round(as_of.timestamp() - float(message["longest_wait_seconds"]))
        return (int(message["waiting"]), began if message["waiting"] else 0, message["calls_today"])

    # ------------------------------------------------------------------ messages
    def _state_message(self, live: AgentLive) -> dict[str, Any]:
        return {
            "type": "state",
            "state": live.state,
            "reason": live.reason,
            "since": None if live.state_since is None else live.state_since.isoformat(),
        }

    def _counters_message(self, live: AgentLive) -> dict[str, Any]:
        waiting, longest = self._group_totals(live.groups)
        today = localtime.local_date(self.clock.now(), self.zone)
        return {
            "type": "counters",
            "waiting": waiting,
            "longest_wait_seconds": round(longest, 1),
            "as_of": (self.queue_counters_at or self.clock.now()).isoformat(),
            "calls_today": live.calls_today if live.calls_day == today else 0,
        }

    def _call_message(self, live: AgentLive) -> dict[str, Any]:
        call = live.call
        if call is None:
            return {"type": "call", "call": None}
        return {
            "type": "call",
            "call": {
                "linkedid": call.linkedid,
                "phase": call.phase,
                "answered_at": None if call.answered_at is None else call.answered_at.isoformat(),
                "ended_at": None if call.ended_at is None else call.ended_at.isoformat(),
                "wrapup_deadline": (
                    None if call.wrapup_deadline is None else call.wrapup_deadline.isoformat()
                ),
                "muted": call.muted,
                "parked_at": call.parked_at,
            },
        }

    def sync_message(self, live: AgentLive) -> dict[str, Any]:
        """Everything a (re)connected page needs to show the agent's present."""
        call = live.call
        counters = self._counters_message(live)
        live.counters_sent = self._counters_key(counters)
        return {
            "type": "sync",
            "server_time": self.clock.now().isoformat(),
            "state": self._state_message(live),
            "counters": counters,
            "call": self._call_message(live)["call"],
            "pop": None if call is None or not call.pop else call.pop,
            "draft_notes": "" if call is None else call.draft_notes,
        }

    async def agent_connected(self, user_id: int, role: Role) -> AgentLive:
        live = self.agent(user_id)
        live.role = role
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is not None and user.interface:
                self.interfaces.setdefault(interface_key(user.interface), user_id)
            live.groups = frozenset(
                await session.scalars(
                    select(AgentGroup.code)
                    .join(AgentGroupMember, AgentGroupMember.group_id == AgentGroup.id)
                    .where(AgentGroupMember.user_id == user_id)
                )
            )
            today = localtime.local_date(self.clock.now(), self.zone)
            start, end = localtime.day_bounds(today, self.zone)
            answered = await session.scalar(
                select(func.count())
                .select_from(Call)
                .where(
                    Call.agent_id == user_id,
                    Call.answered_at.is_not(None),
                    Call.started_at >= start,
                    Call.started_at < end,
                )
            )
            if live.calls_day != today or (answered or 0) > live.calls_today:
                live.calls_day, live.calls_today = today, int(answered or 0)
        status = self.acd.agent_status(user_id) if self.acd is not None else None
        if self.acd is not None and status is not None:
            live.state, live.reason, live.state_since = status.state, status.reason, status.since
            self.learn_interface(status.phone, user_id)
            self.acd.page_status(user_id, open_=True)
        return live

    def agent_disconnected(self, user_id: int) -> None:
        """The agent's last page closed: the ACD stops offering calls after its grace period."""
        if self.acd is not None and not self.hub.is_connected(user_id):
            self.acd.page_status(user_id, open_=False)

    async def _wrapup_seconds_from_db(self) -> float:
        """The admin's wrap-up time: the ACD's own (already loaded) value, else the database."""
        if self.acd is not None:
            return self.acd.wrapup_seconds
        async with self.sessions() as session:
            return (await load_system_settings(session)).wrapup_seconds


#: One per application, set by the room's ``plugin.py``.
AGENT_DESK = web.AppKey("agent_desk", AgentDesk)
