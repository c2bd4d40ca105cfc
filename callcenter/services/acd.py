"""The ACD application service: glues the pure ACD to Asterisk, the database and the bus.

It answers the dialplan's FastAGI requests (``inbound``, ``menu``, ``route``,
``after-call``, ``hangup``), moves waiting callers to a freed agent with AMI
``Setvar`` + ``Redirect``, mirrors pauses into the fallback queue with
``QueuePause``, stores every agent state change (start and end), turns
abandoned and out-of-hours calls into callback tasks (never for anonymous
callers) and rebuilds the waiting list from Asterisk's channels after a restart.

Every decision is made by :class:`~callcenter.core.acd.Acd`; this module only
carries them out, so the order of side effects is the one thing it owns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import tasks as background
from callcenter.agi.protocol import AgiHangup
from callcenter.agi.server import AgiSession, FastAgiServer
from callcenter.clock import Clock
from callcenter.core.acd import (
    Acd,
    AcdError,
    AcdSettings,
    AgentState,
    CallGone,
    Dial,
    GroupConfig,
    StateChange,
    Strategy,
    Wait,
)
from callcenter.core.bus import EventBus
from callcenter.core.call_control import CallControl
from callcenter.core.events import (
    AgentDeviceState,
    AgentStateChanged,
    CallAnswered,
    CallbackTaskCreated,
    CallEnded,
    CallOffered,
    CallRecord,
    CallsResynced,
    CallTransferred,
    ConfigChanged,
    QueueChanged,
)
from callcenter.core.hours import OfficeHours
from callcenter.core.interfaces import interface_key, local_partner_name
from callcenter.core.phones import Phone, caller_id_number, normalize_phone
from callcenter.db.repos import acd as acd_repo
from callcenter.db.repos import tasks as tasks_repo
from callcenter.db.repos.routing import RoutingConfig, load_routing_config
from callcenter.prompts import menu_prompt_code
from callcenter.services.caller_lookup import CallerLookups
from callcenter.services.write_behind import WriteBehind

log = logging.getLogger(__name__)

WAIT_CONTEXT = "cc-wait"
DIAL_CONTEXT = "cc-dial"
OVERFLOW_CONTEXT = "cc-overflow"
VOICEMAIL_CONTEXT = "cc-voicemail"
FALLBACK_QUEUE = "cc-fallback"
#: a waiting caller's position ("you are number N") is sent again at most this often; the
#: dialplan plays it every CC_ANNOUNCE_EVERY (30 s)
POSITION_REFRESH_SECONDS = 5.0
#: and the waiting callers are ranked for it at most this often (the timers pass every second)
POSITION_SCAN_SECONDS = 1.0

ANONYMOUS_NAMES = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})


def is_withheld(presentation: str) -> bool:
    """Caller ID presentation "prohibited" (Asterisk CALLINGPRES): the number is not shown."""
    try:
        return int(presentation or "0") & 0x60 == 0x20
    except ValueError:
        return False


def is_anonymous(number: str, presentation: str = "0") -> bool:
    """A withheld number (presentation "prohibited", or no usable digits) cannot be called back."""
    if is_withheld(presentation):
        return True
    if number.strip().lower() in ANONYMOUS_NAMES:
        return True
    return not isinstance(normalize_phone(number), Phone)


def position_prompt(position: int) -> str:
    """What ``[cc-wait]`` plays between music: "please wait, you are number N" (N ≤ 10).

    Playback takes ``&``-joined files; the digits are the default prompts'
    ``callcenter/digits/N``. Beyond 10 only the wait message plays.
    """
    if 1 <= position <= 10:
        return f"callcenter/please-wait&callcenter/position&callcenter/digits/{position}"
    return "callcenter/please-wait"


def _duration_seconds(text: str) -> float:
    """CoreShowChannel ``Duration: 00:01:13`` → 73."""
    try:
        parts = [int(part) for part in text.split(":")]
    except ValueError:
        return 0.0
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return float(seconds)


@dataclass(frozen=True)
class AgentStatus:
    """An agent as the ACD sees them now (for pages; the ACD's own objects stay inside)."""

    state: str
    reason: str
    since: datetime | None
    phone: str  # the interface their calls ring: picked at login, else the configured one


@dataclass(frozen=True)
class RingingOffer:
    """The call the ACD just offered an agent, as the agent page needs it for the pop."""

    call_id: str
    caller_number: str  # "" when the caller withheld their number
    customer_id: int | None
    caller_channel: str
    hotline: str
    group: str
    ring_timeout: float | None
    #: the call's Asterisk ``Linkedid`` (AMI events and call records use it; ``call_id`` is
    #: the FastAGI channel's uniqueid, which differs for a call entering through a Local channel)
    linkedid: str = ""
    caller_name: str = ""


@dataclass
class CallInfo:
    """What the service keeps per call beside the ACD: the Asterisk side of it."""

    call_id: str
    channel: str
    caller: str
    presentation: str
    hotline: str = ""
    group: str = ""
    customer_id: int | None = None
    #: the caller lookup, started at ``inbound`` so ``route`` seconds later needs no query
    profile: asyncio.Task[acd_repo.CallerProfile] | None = None
    #: the position the caller's waiting announcement says (0: none yet), and when it was set
    announced_position: int = 0
    position_sent_at: datetime | None = None
    #: the call's Linkedid when it differs from ``call_id`` (entry through a Local channel)
    linkedid: str = ""
    caller_name: str = ""

    def __post_init__(self) -> None:
        # One form everywhere (the call record, the pop, tasks, the waiting list): E.164.
        self.caller = caller_id_number(self.caller)


class AcdService:
    def __init__(
        self,
        *,
        clock: Clock,
        bus: EventBus,
        sessions: async_sessionmaker[AsyncSession],
        control: CallControl | None = None,
        settings_zone: Any = None,
        metrics: Any = None,
        profile_wait_seconds: float = 0.25,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self.sessions = sessions
        self.control = control
        self.acd = Acd(clock, AcdSettings(zone=settings_zone) if settings_zone else AcdSettings())
        self.acd.add_listener(self._on_state_change)
        self.config: RoutingConfig | None = None
        self.hours: dict[str, OfficeHours] = {}
        self.calls: dict[str, CallInfo] = {}
        self._changes: asyncio.Queue[StateChange] = asyncio.Queue()
        #: the agent-state history, written behind: the route path only appends (issue 19)
        self.state_log: WriteBehind[acd_repo.StateRow] = WriteBehind(
            "acd_states", self._store_states, coalesce=coalesce_states, metrics=metrics
        )
        #: how long a route waits for the caller lookup started at ``inbound``
        self.profile_wait_seconds = profile_wait_seconds
        self.lookups = CallerLookups(sessions)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: list[Any] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._announcer: asyncio.Task[None] | None = None
        self._positions_scanned_at: datetime | None = None
        self._resync_pending = False
        self._static_members: set[str] = set()
        self._usernames: dict[int, str] = {}
        #: uniqueid → Linkedid of a live channel (the AMI call tracker's ``linkedid_of``)
        self.linkedid_of: Callable[[str], str | None] | None = None
        #: Linkedid → call_id, for calls whose FastAGI channel is not the call's first one
        self._by_linkedid: dict[str, str] = {}
        #: the AMI call tracker's live record of a call (``CallTracker.get``), for resyncs
        self.call_record: Callable[[str], CallRecord | None] | None = None
        #: the tracker's live calls' Linkedids (``CallTracker.active_calls``)
        self.live_calls: Callable[[], Iterable[str]] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.reload()
        await self._restore_agents()
        self._resync_pending = True
        await self._resync_with_asterisk()
        if self.live_calls is not None:  # the AMI link may have resynced before we started
            self._adopt_connected(self.live_calls())
        self._unsubscribe = [
            self.bus.subscribe(ConfigChanged, self._on_config_changed),
            self.bus.subscribe(CallOffered, self._on_call_offered),
            self.bus.subscribe(CallAnswered, self._on_call_answered),
            self.bus.subscribe(CallEnded, self._on_call_ended),
            self.bus.subscribe(CallTransferred, self._on_call_transferred),
            self.bus.subscribe(CallsResynced, self._on_calls_resynced),
            self.bus.subscribe(AgentDeviceState, self._on_device_state),
        ]
        self._tasks = [  # supervised: a bug is logged with its cause and the loop restarts
            background.supervise("acd-state-log", self.state_log.run),
            background.supervise("acd-state-writer", self._write_states),
            background.supervise("acd-timers", self._timers),
        ]

    async def stop(self) -> None:
        unsubscribers, self._unsubscribe = self._unsubscribe, []
        for unsubscribe in unsubscribers:
            unsubscribe()
        if not self._tasks:
            return
        await self.flush()
        for task in self._tasks:
            await background.stop(task)
        for task in list(self._background):  # let a reload or a lookup finish; log its failure
            try:
                await task
            except Exception:
                log.exception("ACD background task %s failed", task.get_name())
        self._tasks = []

    async def flush(self) -> None:
        """Wait until every state change so far is stored (tests and shutdown)."""
        await self._changes.join()
        await self.state_log.flush()
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def register_routes(self, server: FastAgiServer, route_deadline: float) -> None:
        server.add_route("inbound", self.agi_inbound, deadline=route_deadline * 2)
        server.add_route("menu", self.agi_menu, deadline=route_deadline * 2)
        server.add_route("route", self.agi_route, deadline=route_deadline)
        server.add_route("after-call", self.agi_after_call, deadline=route_deadline * 2)
        server.add_route("hangup", self.agi_hangup, deadline=route_deadline * 2)
        server.add_route("callback", self.agi_callback, deadline=route_deadline * 2)

    # ------------------------------------------------------------------ configuration
    async def reload(self) -> None:
        """(Re)load the routing configuration; agents' live state and waiting callers are kept."""
        async with self.sessions() as session:
            config = await load_routing_config(session)
            users = await acd_repo.agents(session)
        self.config = config
        settings = config.settings
        groups = []
        for group in config.groups.values():
            if not group.active:
                continue
            try:
                strategy = Strategy(group.strategy)
            except ValueError:
                strategy = Strategy.LEAST_RECENT
            groups.append(
                GroupConfig(
                    code=group.code,
                    strategy=strategy,
                    ring_timeout=group.ring_timeout_seconds,
                    max_wait=group.max_wait_seconds,
                    overflow_action=group.overflow_action,
                    members={m.user_id: m.priority for m in group.members if m.active},
                )
            )
        self.acd.configure(
            groups,
            AcdSettings(
                wrapup_seconds=settings.wrapup_seconds,
                missed_calls_pause_after=settings.missed_calls_before_pause,
                sticky_seconds=settings.sticky_agent_seconds,
                page_grace_seconds=settings.page_grace_seconds,
                zone=self.acd.settings.zone,
            ),
        )
        for user in users:
            self.acd.upsert_agent(
                user.id, name=user.full_name or user.username, interface=user.interface
            )
        # The fallback queue's static members (`callcenter asterisk sync` writes the same list).
        self._static_members = {u.interface.strip().lower() for u in users if u.interface.strip()}
        self._usernames = {u.id: u.username for u in users}
        zone = self.acd.settings.zone
        self.hours = {}
        for number, hotline in config.hotlines.items():
            self.hours[number] = OfficeHours.build(
                [(i.weekday, i.opens, i.closes) for i in config.hours_for(hotline.id)],
                [(o.day, o.closed, o.name) for o in config.overrides.values()],
                zone=zone,
            )
        self._kick()

    async def _restore_agents(self) -> None:
        """After a restart, agents who were logged in stay logged in (paused stays paused)."""
        async with self.sessions() as session:
            rows = await acd_repo.open_states(session)
        for row in rows:
            if row.user_id in self.acd.agents and row.state != AgentState.LOGGED_OUT:
                self.acd.restore_agent(
                    row.user_id,
                    AgentState(row.state),
                    reason=row.reason,
                    interface=row.interface,
                    since=row.started_at,
                )

    async def _resync_with_asterisk(self) -> None:
        """Once the AMI link is up: rebuild the waiting list and mirror every pause state.

        Retried on the next timer pass until it succeeds (the link may drop again, or
        answer its own resync first)."""
        control = self.control
        if not self._resync_pending or control is None:
            return
        if not getattr(control, "connected", True):
            return
        try:
            await self.rebuild_waiting()
        except Exception as exc:
            log.warning("waiting list not rebuilt yet (%s); retrying", exc)
            return
        self._resync_pending = False
        for agent in self.acd.agents.values():
            if not agent.channel:
                continue
            paused = agent.state in (AgentState.PAUSED, AgentState.LOGGED_OUT)
            try:
                await control.queue_pause(
                    agent.channel, paused, queue=FALLBACK_QUEUE, reason=agent.reason
                )
            except Exception:
                log.debug("QueuePause %s at resync failed", agent.channel, exc_info=True)

    async def rebuild_waiting(self) -> int:
        """Put callers found in the waiting context back in line, wait counted from channel creation."""
        if self.control is None:
            return 0
        channels = await self.control.channels()
        now = self.clock.now()
        restored = 0
        for item in channels:
            if item.get("Context") != WAIT_CONTEXT:
                continue
            channel = item.get("Channel", "")
            call_id = item.get("Uniqueid", "")
            group = await self.control.getvar(channel, "CC_GROUP") or ""
            if not group or not call_id:
                continue
            priority_text = await self.control.getvar(channel, "CC_PRIORITY") or "0"
            since = now - timedelta(seconds=_duration_seconds(item.get("Duration", "0")))
            caller = item.get("CallerIDNum", "")
            info = self.calls[call_id] = CallInfo(call_id, channel, caller, "0", group=group)
            self._link(info, item.get("Linkedid", ""))
            self.acd.restore_waiting(
                call_id,
                group,
                since=since,
                caller=info.caller,
                channel=channel,
                priority=int(priority_text) if priority_text.isdigit() else 0,
            )
            restored += 1
        if restored:
            log.info("rebuilt the waiting list: %d callers", restored)
            self._kick()
        return restored

    # ------------------------------------------------------------------ agent actions (API)
    async def login(self, agent_id: int, interface: str | None = None) -> None:
        self.acd.login(agent_id, interface)
        await self.after_change()

    async def logout(self, agent_id: int) -> None:
        self.acd.logout(agent_id)
        await self.after_change()

    async def pause(self, agent_id: int, reason: str) -> None:
        if self.config is not None:
            known = {r.code for r in self.config.pause_reasons if r.active}
            if known and reason not in known:
                raise AcdError(f"unknown pause reason {reason!r}")
        self.acd.pause(agent_id, reason)
        await self.after_change()

    async def set_available(self, agent_id: int) -> None:
        self.acd.set_available(agent_id)
        await self.after_change()

    async def end_wrapup(self, agent_id: int) -> None:
        self.acd.end_wrapup(agent_id)
        await self.after_change()

    def page_status(self, agent_id: int, *, open_: bool) -> None:
        """The agent page's websocket opened or closed (grace period applies)."""
        if agent_id in self.acd.agents:
            self.acd.page_status(agent_id, open_=open_)
            self._kick()

    async def set_strategy(self, group: str, strategy: str) -> None:
        self.acd.set_strategy(group, Strategy(strategy))

    # ------------------------------------------------------------------ read side (pages, recorder)
    def agent_status(self, agent_id: int) -> AgentStatus | None:
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            return None
        return AgentStatus(str(agent.state), agent.reason, agent.state_since, agent.channel)

    def phones_in_use(self) -> dict[str, int]:
        """Phone interface -> the agent logged in there now (hot-desking moves agents)."""
        return {
            agent.channel: agent.id
            for agent in self.acd.agents.values()
            if agent.state is not AgentState.LOGGED_OUT
        }

    def ringing_offer(self, agent_id: int) -> RingingOffer | None:
        """The call now ringing (or about to ring) ``agent_id``, if any."""
        agent = self.acd.agents.get(agent_id)
        call = self.acd.calls.get(agent.call_id) if agent and agent.call_id else None
        if call is None:
            return None
        info = self.calls.get(call.id)
        group = self.acd.groups.get(call.group)
        withheld = info is not None and is_withheld(info.presentation)
        return RingingOffer(
            call_id=call.id,
            caller_number="" if withheld else (info.caller if info else "") or call.caller,
            customer_id=call.customer_id,
            caller_channel=(info.channel if info else "") or call.channel,
            hotline=info.hotline if info else "",
            group=call.group,
            ring_timeout=group.ring_timeout if group else None,
            linkedid=(info.linkedid if info else "") or call.id,
            caller_name="" if withheld or info is None else info.caller_name,
        )

    @property
    def wrapup_seconds(self) -> float:
        return float(self.acd.settings.wrapup_seconds)

    def agent_snapshot(self, agent_id: int) -> dict[str, Any]:
        agent = self.acd.agents[agent_id]
        return {
            "agent_id": agent.id,
            "name": agent.name,
            "state": str(agent.state),
            "reason": agent.reason,
            "since": agent.state_since.isoformat() if agent.state_since else None,
            "interface": agent.channel,
            "calls_today": agent.calls_today,
            "missed_in_a_row": agent.missed_in_a_row,
            "phone_ok": agent.phone_registered and not agent.phone_busy,
        }

    # ------------------------------------------------------------------ FastAGI routes
    async def agi_inbound(self, session: AgiSession) -> None:
        hotline_number = session.args[0] if session.args else session.env.get("agi_extension", "")
        config = self.config
        hotline = config.hotlines.get(hotline_number) if config else None
        if hotline is None or not hotline.active:
            log.warning("inbound call for unknown hotline %r: no decision", hotline_number)
            return
        info = CallInfo(
            session.uniqueid,
            session.channel,
            session.caller,
            session.env.get("agi_callingpres", "0"),
            hotline=hotline.number,
            group=hotline.group_code or "",
        )
        self.calls[info.call_id] = info
        self._link(info, caller_name=session.env.get("agi_calleridname", ""))
        info.profile = self._tracked(self._caller_profile(session.caller))
        decision = self.hours[hotline.number].check(self.clock.now())
        if not decision.open:
            values = {
                "CC_ACTION": "closed",
                "CC_CLOSED_REASON": decision.reason,
                "CC_CLOSED_ACTION": hotline.closed_action,
                "CC_PROMPT": self._prompt("holiday" if decision.reason == "holiday" else "closed"),
            }
            await session.set_variables(values)
            return  # with closed_action=callback the caller may press 1: agi_callback
        values = {"CC_GROUP": hotline.group_code or ""}
        if hotline.menu_enabled and hotline.menu:
            values |= {
                "CC_ACTION": "menu",
                "CC_PROMPT": self._prompt(menu_prompt_code(hotline.number)) or self._prompt("menu"),
                "CC_MENU_TIMEOUT": str(hotline.menu_timeout_seconds),
            }
        else:
            values["CC_ACTION"] = "route"
        await session.set_variables(values)

    async def _caller_profile(self, caller: str) -> acd_repo.CallerProfile:
        """Read off the caller's file, which the agent desk's pop shares (one load per call)."""
        return (await asyncio.shield(self.lookups.load(caller))).profile

    async def _bounded_profile(
        self, call_id: str, lookup: asyncio.Task[acd_repo.CallerProfile]
    ) -> acd_repo.CallerProfile:
        """The caller lookup started at ``inbound``, waited for at most
        ``profile_wait_seconds``: a slow database routes the call as an unknown caller
        (no priority, no sticky agent) rather than hold it."""
        if lookup.done() and not lookup.cancelled() and lookup.exception() is None:
            return lookup.result()
        try:
            async with asyncio.timeout(self.profile_wait_seconds):
                return await asyncio.shield(lookup)
        except TimeoutError:
            log.warning(
                "caller lookup for %s took over %.2f s; routing without it",
                call_id,
                self.profile_wait_seconds,
            )
        except Exception:
            log.warning("caller lookup for %s failed; routing without it", call_id, exc_info=True)
        return acd_repo.CallerProfile()

    async def agi_menu(self, session: AgiSession) -> None:
        digit = session.args[0] if session.args else ""
        hotline_number = await session.get_variable("CC_HOTLINE") or ""
        hotline = self.config.hotlines.get(hotline_number) if self.config else None
        group = hotline.menu.get(digit) if hotline else None
        if group is None or group not in self.acd.groups:
            await session.set_variables({"CC_ACTION": "invalid"})
            return
        info = self.calls.get(session.uniqueid)
        if info is not None:
            info.group = group
        await session.set_variables({"CC_ACTION": "route", "CC_GROUP": group})

    async def agi_route(self, session: AgiSession) -> None:
        """The 1-second decision: ring an agent (dial) or wait in Asterisk (wait).

        If no decision reaches the dialplan (the route's deadline, an error), the
        FastAGI server sends the caller to the fallback queue: the ACD then forgets
        the call, so it neither waits in our list nor holds an agent ringing.
        """
        try:
            await self._route(session)
        except AgiHangup:
            raise  # the caller is gone: the h extension reports it (abandon, callback)
        except BaseException:
            gone = self.acd.call_ended(session.uniqueid)
            if gone is not None:
                log.warning(
                    "route for %s: no decision reached Asterisk; the call goes to the "
                    "fallback queue and leaves the ACD (it was %s)",
                    session.uniqueid,
                    gone.abandoned_while,
                )
            self._kick()
            raise

    async def _route(self, session: AgiSession) -> None:
        call_id = session.uniqueid
        call = self.acd.calls.get(call_id)
        if call is not None:
            status = await session.get_variable("DIALSTATUS") or "NOANSWER"
            self.acd.ring_outcome(call_id, status)
        else:
            group = await session.get_variable("CC_GROUP") or ""
            if group not in self.acd.groups:
                log.warning("route for %s: unknown group %r, no decision", call_id, group)
                return
            info = self.calls.get(call_id) or CallInfo(
                call_id, session.channel, session.caller, session.env.get("agi_callingpres", "0")
            )
            info.group = group
            self.calls[call_id] = info
            self._link(info, caller_name=session.env.get("agi_calleridname", ""))
            if info.profile is None:
                info.profile = self._tracked(self._caller_profile(session.caller))
            profile = await self._bounded_profile(call_id, info.profile)
            info.customer_id = profile.customer_id
            self.acd.arrive(
                call_id,
                group,
                caller=info.caller,
                channel=session.channel,
                customer_id=profile.customer_id,
                priority=profile.priority,
                sticky_agent_id=profile.ticket_agent_id,
            )
        decision = self.acd.route(call_id)
        try:
            await session.set_variables(self._wait_variables(decision))
        except BaseException:
            if isinstance(decision, Dial):
                self.acd.undelivered(decision)
            raise
        finally:
            self._kick()

    async def agi_after_call(self, session: AgiSession) -> None:
        """The agent hung up (Dial option g): wrap-up starts; the caller may go on to a survey.

        The dialplan only comes here after ``DIALSTATUS=ANSWER``; if the AMI answer event
        has not reached us (link down), the answering agent is taken from ``DIALEDPEERNAME``.
        """
        call = self.acd.calls.get(session.uniqueid)
        if call is not None and call.agent_id is None and call.ringing:
            agent_id = call.ringing[0] if len(call.ringing) == 1 else None
            if agent_id is None:
                peer = await session.get_variable("DIALEDPEERNAME") or ""
                agent_id = self.agent_at_phone(peer)
            self.acd.answered(session.uniqueid, agent_id)
        self._ended(session.uniqueid)
        if self.config is not None and self.config.settings.survey_after_call:
            # CC_PROMPT is set either way: it may still hold the menu prompt from inbound.
            await session.set_variables(
                {"CC_PROMPT": self._prompt("survey"), "CC_ACTION": "survey"}
            )

    async def agi_hangup(self, session: AgiSession) -> None:
        """``h`` extension: the caller is gone (abandon if no agent had answered).

        From ``[cc-voicemail]`` a message was recorded: it becomes a voicemail task
        (the file is ``voicemail-<uniqueid>.wav`` in the recordings folder)."""
        if session.env.get("agi_context") == VOICEMAIL_CONTEXT:
            status = await session.get_variable("RECORD_STATUS") or ""
            if status and status != "ERROR":
                info = self.calls.get(session.uniqueid) or CallInfo(
                    session.uniqueid,
                    session.channel,
                    session.caller,
                    session.env.get("agi_callingpres", "0"),
                )
                self.acd.call_ended(session.uniqueid)
                self.calls.pop(session.uniqueid, None)
                await self._create_callback(
                    info, origin="voicemail", notes=f"voicemail-{session.uniqueid}.wav"
                )
                self._kick()
                return
        self._ended(session.uniqueid)

    async def agi_callback(self, session: AgiSession) -> None:
        """The caller pressed 1 for a callback (out of hours or overflow)."""
        origin = session.args[0] if session.args else "overflow"
        info = self.calls.get(session.uniqueid) or CallInfo(
            session.uniqueid,
            session.channel,
            session.caller,
            session.env.get("agi_callingpres", "0"),
        )
        origin = origin if origin in tasks_repo.ORIGINS else "overflow"
        notes = ""
        if origin == "closed":  # why it was closed: outside_hours / holiday / closed_day
            notes = await session.get_variable("CC_CLOSED_REASON") or ""
        created = await self._create_callback(info, origin=origin, notes=notes)
        await session.set_variables({"CC_CALLBACK": "yes" if created else "no"})

    # ------------------------------------------------------------------ bus (from the AMI tracker)
    def _on_config_changed(self, _event: ConfigChanged) -> None:
        self._spawn(self.reload())

    def _on_call_offered(self, event: CallOffered) -> None:
        """Only learns which call this is: a Local-channel entry whose Linkedid the tracker
        did not know yet at the route request is matched by its caller channel here."""
        self._call_for(event.linkedid, event.caller_channel)

    def _on_call_answered(self, event: CallAnswered) -> None:
        """An agent answered: the one the ACD rang, or the target of a transfer."""
        call_id = self._call_for(event.linkedid, event.caller_channel)
        agent_id = self.agent_at_phone(event.interface)
        if call_id is not None and agent_id is not None:
            self.acd.answered(call_id, agent_id)
            self._kick()

    def _on_calls_resynced(self, event: CallsResynced) -> None:
        """After a restart or a lost AMI link: calls Asterisk kept connected to an agent
        while we were away are the agent's again (on call, then wrap-up when they end),
        rather than leaving a talking agent "available" for the next caller."""
        self._adopt_connected(event.live)

    def _adopt_connected(self, live: Iterable[str]) -> None:
        if self.call_record is None:
            return
        adopted = False
        for linkedid in sorted(live):
            if self._call_for(linkedid) is not None:
                continue
            record = self.call_record(linkedid)
            if record is None or record.ended_at is not None:
                continue
            for attempt in record.attempts:
                if attempt.outcome != "answered" or attempt.ended_at is not None:
                    continue
                agent_id = self.agent_at_phone(attempt.interface)
                if agent_id is not None and self.acd.adopt_connected(
                    linkedid, agent_id, caller=record.caller_number,
                    channel=record.caller_channel,
                ):  # fmt: skip
                    log.info("call %s is agent %s's again after a resync", linkedid, agent_id)
                    adopted = True
                    break
        if adopted:
            self._kick()

    def _on_call_ended(self, event: CallEnded) -> None:
        call_id = self._call_for(event.linkedid, event.record.caller_channel)
        if call_id is not None:
            self._ended(call_id)

    def _on_call_transferred(self, event: CallTransferred) -> None:
        """The agent passed the caller on (blind or attended): their part ends and wrap-up
        starts. The ACD keeps the call until the caller is gone, so the agent who takes it
        is on a call and gets their wrap-up after it: at once for an attended transfer
        (``to`` is the target's phone), when the target answers for a blind one."""
        call_id = self._call_for(event.linkedid)
        agent_id = self.agent_at_phone(event.from_interface)
        call = self.acd.calls.get(call_id) if call_id is not None else None
        if call is None or agent_id is None or call.agent_id != agent_id:
            return
        # A blind transfer's ``to`` is a dialplan place (exten@context), not a phone.
        to_agent = self.agent_at_phone(event.to) if "/" in event.to else None
        log.info(
            "agent %s passed call %s on (%s to %s)",
            agent_id,
            call.id,
            event.kind,
            event.to,
        )
        self.acd.transferred(call.id, agent_id, to_agent)
        self._kick()

    def _on_device_state(self, event: AgentDeviceState) -> None:
        device = event.device
        if device and "/" not in device:
            device = f"PJSIP/{device}"  # ContactStatus names the endpoint only
        state = event.state.upper()
        if event.source == "ContactStatus":
            registered = state not in ("UNREACHABLE", "REMOVED", "NONQUALIFIED")
            self.acd.phone_status(device, registered=registered)
        else:
            # A phone in use or ringing is busy for new offers; our own call is covered by the
            # agent's ACD state, and the phone's NOT_INUSE after it makes it free again.
            self.acd.phone_status(
                device,
                registered=state not in ("UNAVAILABLE", "INVALID"),
                busy=state in ("INUSE", "BUSY", "ONHOLD", "RINGING", "RINGINUSE"),
            )
        self._kick()

    def _link(self, info: CallInfo, linkedid: str = "", caller_name: str = "") -> None:
        """Remember the call's Linkedid next to its FastAGI uniqueid (they differ when the
        call entered through a Local channel: FastAGI runs on the ``;2`` half)."""
        if caller_name and caller_name.lower() not in ANONYMOUS_NAMES:
            info.caller_name = caller_name
        if not linkedid and self.linkedid_of is not None:
            linkedid = self.linkedid_of(info.call_id) or ""
        if linkedid and linkedid != info.call_id:
            info.linkedid = linkedid
            self._by_linkedid[linkedid] = info.call_id

    def _call_for(self, linkedid: str, channel: str = "") -> str | None:
        """Our call for an AMI fact: by Linkedid, else by the caller's channel or its Local
        partner (the half FastAGI ran on)."""
        if linkedid in self.acd.calls or linkedid in self.calls:
            return linkedid
        known = self._by_linkedid.get(linkedid)
        if known is not None:
            return known
        if not channel:
            return None
        names = {channel, local_partner_name(channel)} - {""}
        for info in self.calls.values():
            if info.channel in names:
                if linkedid:
                    self._link(info, linkedid)
                return info.call_id
        return None

    def agent_at_phone(self, interface: str) -> int | None:
        """Who takes calls on ``interface`` now: a phone, dial string or any of its channels
        (``DIALEDPEERNAME``, a Local channel's ``;1``/``;2`` half), by :func:`interface_key`."""
        if not interface:
            return None
        wanted = interface_key(interface)
        for agent in self.acd.agents.values():
            if agent.channel and interface_key(agent.channel) == wanted:
                return agent.id
        return None

    # ------------------------------------------------------------------ internals
    def _ended(self, call_id: str) -> None:
        gone = self.acd.call_ended(call_id)
        info = self.calls.pop(call_id, None)
        if info is not None and info.linkedid:
            self._by_linkedid.pop(info.linkedid, None)
        if gone is not None and info is not None:
            self._spawn(self._abandoned(gone, info))
        self._kick()

    async def _abandoned(self, gone: CallGone, info: CallInfo) -> None:
        log.info(
            "call %s abandoned while %s after %.0f s",
            gone.call_id,
            gone.abandoned_while,
            gone.waited_seconds,
        )
        await self._create_callback(
            info,
            origin="abandoned",
            notes=f"waited {gone.waited_seconds:.0f} s ({gone.abandoned_while})",
        )

    async def _create_callback(self, info: CallInfo, *, origin: str, notes: str = "") -> bool:
        if is_anonymous(info.caller, info.presentation):
            log.info("no callback for anonymous caller on %s", info.channel)
            return False
        phone = normalize_phone(info.caller)
        number = phone.e164 if isinstance(phone, Phone) else info.caller
        async with self.sessions() as session, session.begin():
            if info.customer_id is None:
                profile = await acd_repo.caller_profile(session, number)
                info.customer_id = profile.customer_id
            # One callback per number per local day: a repeat joins it (tasks_repo docs).
            task, merged = await tasks_repo.record_callback(
                session,
                origin=origin,
                phone=number,
                customer_id=info.customer_id,
                group=info.group,
                notes=notes,
                now=self.clock.now(),
                zone=self.acd.settings.zone,
            )
            task_id = task.id
        if merged:
            return False
        self.bus.publish(
            CallbackTaskCreated(task_id=task_id, phone=number, origin=origin, group=info.group)
        )
        return True

    def _prompt(self, code: str) -> str:
        if self.config is None:
            return ""
        prompt = self.config.prompts.get(code)
        if prompt is None:
            return ""
        # Asterisk plays prompts from sounds/callcenter/ (the prompts volume), like the defaults.
        return "callcenter/" + prompt.filename.rsplit(".", 1)[0]

    @staticmethod
    def _decision_variables(decision: Dial | Wait) -> dict[str, str]:
        if isinstance(decision, Dial):
            return {
                "CC_AGENT_CHANNEL": decision.dial_string,
                "CC_AGENT_ID": ",".join(str(a) for a in decision.agent_ids),
                "CC_RING_TIMEOUT": str(round(decision.ring_timeout)),
                "CC_ACTION": "dial",
            }
        return {"CC_POSITION": str(decision.position), "CC_ACTION": "wait"}

    def _wait_variables(self, decision: Dial | Wait) -> dict[str, str]:
        values = self._decision_variables(decision)
        call = self.acd.calls.get(decision.call_id)
        if isinstance(decision, Wait) and call is not None:
            info = self.calls.get(decision.call_id)
            if info is not None:
                info.announced_position = decision.position
                info.position_sent_at = self.clock.now()
            values = {
                "CC_PRIORITY": str(call.priority),
                "CC_WAIT_PROMPT_CALL": position_prompt(decision.position),
                **values,
            }
        return values

    def _announce_positions(self) -> None:
        """Keep each waiting caller's announcement ("you are number N") up to date, off the
        routing path: a caller's position is sent again at most every
        ``POSITION_REFRESH_SECONDS`` (the dialplan plays it every 30 s), by one background
        task at a time. Sending every shift at once cost one AMI action per waiting caller
        per answered call, awaited before the next offer: with 500 callers waiting, that
        was a third of the loop and 70-270 ms of routing (bench/load.py's stretch)."""
        if self.control is None or (self._announcer is not None and not self._announcer.done()):
            return  # the next pass (within a second: the timers) sends what is left
        now = self.clock.now()
        if (
            self._positions_scanned_at is not None
            and (now - self._positions_scanned_at).total_seconds() < POSITION_SCAN_SECONDS
        ):
            return  # ranking every waiting caller on every change cost more than the sends
        self._positions_scanned_at = now
        due: list[tuple[str, str]] = []
        # One pass over every waiting caller (ranked as each group ranks them), not one per group.
        positions: dict[str, int] = {}
        for caller in self.acd.waiting():
            position = positions[caller.group] = positions.get(caller.group, 0) + 1
            info = self.calls.get(caller.call_id)
            if info is None or info.announced_position == position:
                continue
            sent = info.position_sent_at
            if sent is not None and (now - sent).total_seconds() < POSITION_REFRESH_SECONDS:
                continue
            info.announced_position, info.position_sent_at = position, now
            due.append((caller.channel, position_prompt(position)))
        if due:
            self._announcer = self._tracked(self._send_positions(due))

    async def _send_positions(self, due: list[tuple[str, str]]) -> None:
        assert self.control is not None
        for channel, prompt in due:
            try:
                await self.control.setvar(channel, "CC_WAIT_PROMPT_CALL", prompt)
            except Exception:
                log.debug("could not update the position of %s", channel)

    def _on_state_change(self, change: StateChange) -> None:
        self.state_log.put(
            acd_repo.StateRow(
                change.agent_id, str(change.state), change.reason, change.interface, change.at
            )
        )
        self._changes.put_nowait(change)
        self.bus.publish(
            AgentStateChanged(
                agent_id=change.agent_id,
                state=str(change.state),
                previous=str(change.previous),
                reason=change.reason,
                interface=change.interface,
                at=change.at,
            )
        )

    async def _store_states(self, rows: list[acd_repo.StateRow]) -> None:
        """One transaction per batch: close each agent's open row, insert the new ones."""
        async with self.sessions() as session, session.begin():
            await acd_repo.record_states(session, rows)

    async def _write_states(self) -> None:
        """The fallback queue's pause mirror, in order of the changes. The state log itself
        is written behind (``state_log``): the mirror never waits for the database."""
        while True:
            batch = [await self._changes.get()]
            while not self._changes.empty() and len(batch) < 500:
                batch.append(self._changes.get_nowait())
            for change in batch:
                try:
                    await self._mirror_pause(change)
                except Exception:
                    log.exception("pause mirror failed for agent %s", change.agent_id)
                finally:
                    self._changes.task_done()

    async def _mirror_pause(self, change: StateChange) -> None:
        if self.control is None or not change.interface:
            return
        paused_now = change.state in (AgentState.PAUSED, AgentState.LOGGED_OUT)
        paused_before = change.previous in (AgentState.PAUSED, AgentState.LOGGED_OUT)
        if change.interface.lower() not in self._static_members:
            # Hot-desking at a phone that is no agent's own: `callcenter asterisk sync`
            # made no member for it, so add one at login (with its pause state) and
            # remove it at logout; the fallback queue then rings the agent there.
            if change.previous is AgentState.LOGGED_OUT and await self._queue_add(
                change, paused_now
            ):
                return
            if change.state is AgentState.LOGGED_OUT:
                try:
                    await self.control.queue_remove(change.interface, queue=FALLBACK_QUEUE)
                    return
                except Exception as exc:  # not dynamic after all: pause it below
                    log.info("QueueRemove %s: %s", change.interface, exc)
        if paused_now == paused_before:
            return
        try:
            await self.control.queue_pause(
                change.interface, paused_now, queue=FALLBACK_QUEUE, reason=change.reason
            )
        except Exception:
            # Not a member yet (an agent added since the last `callcenter asterisk sync`):
            # add it with the right pause state rather than leave it out of the queue.
            if change.state is not AgentState.LOGGED_OUT and await self._queue_add(
                change, paused_now
            ):
                return
            log.warning(
                "QueuePause %s failed; the fallback queue may ring a paused agent", change.interface
            )

    async def _queue_add(self, change: StateChange, paused: bool) -> bool:
        """QueueAdd the agent's phone; False if it is there already (then QueuePause sets it)."""
        assert self.control is not None
        try:
            await self.control.queue_add(
                change.interface,
                queue=FALLBACK_QUEUE,
                member_name=self._usernames.get(change.agent_id, str(change.agent_id)),
                paused=paused,
                reason=change.reason if paused else "",
            )
        except Exception as exc:
            log.info("QueueAdd %s: %s", change.interface, exc)
            return False
        return True

    def _kick(self) -> None:
        self._wake.set()

    def _spawn(self, coroutine: Any) -> None:
        self._tracked(coroutine)

    def _tracked(self, coroutine: Any) -> asyncio.Task[Any]:
        """A short task the service tracks, so ``stop`` waits for it (never fire-and-forget)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def after_change(self) -> None:
        """Carry out what the ACD decided after a change: offers, overflows, counters."""
        self.acd.tick()
        for call in self.acd.overdue():
            await self._overflow(call.id)
        offers = self.acd.dispatch()
        for dial in offers:
            await self._deliver(dial)
        self._announce_positions()
        self.bus.publish(QueueChanged(groups=self.acd.queue_counters()))

    async def _deliver(self, dial: Dial) -> None:
        """Move a waiting caller to the chosen agent: Setvar the decision, then Redirect."""
        call = self.acd.calls.get(dial.call_id)
        if call is None:
            return
        if self.control is None:
            self.acd.undelivered(dial)
            return
        try:
            for name, value in self._decision_variables(dial).items():
                await self.control.setvar(call.channel, name, value)
            await self.control.redirect(call.channel, DIAL_CONTEXT, "s", 1)
        except Exception:
            log.warning(
                "could not move %s to agent %s", call.channel, dial.agent_ids, exc_info=True
            )
            self.acd.undelivered(dial)

    async def _overflow(self, call_id: str) -> None:
        call = self.acd.overflow(call_id)
        group = self.acd.groups.get(call.group)
        action = group.overflow_action if group else "callback"
        self.acd.calls.pop(call_id, None)
        log.info("call %s waited the maximum: overflow (%s)", call_id, action)
        if self.control is None:
            return
        try:
            await self.control.setvar(call.channel, "CC_OVERFLOW", action)
            await self.control.redirect(call.channel, OVERFLOW_CONTEXT, "s", 1)
        except Exception:
            log.warning("could not move %s to overflow", call.channel, exc_info=True)

    async def _timers(self) -> None:
        """Wake for wrap-up ends, max waits and page grace expiries, or when kicked."""
        task = asyncio.current_task()
        while task is None or not task.cancelling():  # a swallowed cancel still stops us
            try:
                await self._resync_with_asterisk()
                await self.after_change()
            except Exception:
                log.exception("ACD timer pass failed")
            self._wake.clear()
            deadline = self.acd.next_timer()
            delay = 1.0
            if deadline is not None:
                delay = max(0.0, min(delay, (deadline - self.clock.now()).total_seconds()))
            sleeper = asyncio.ensure_future(self.clock.sleep(delay))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when we are cancelled: neither helper outlives the loop
                for pending in (sleeper, waker):
                    pending.cancel()
                await asyncio.gather(sleeper, waker, return_exceptions=True)

    def waiting_snapshot(self, group: str | None = None) -> Sequence[dict[str, Any]]:
        return [
            {
                "call_id": w.call_id,
                "group": w.group,
                "caller": w.caller,
                "priority": w.priority,
                "since": w.enqueued_at.isoformat(),
                "waited_seconds": round(w.waited_seconds, 1),
                "position": index,
            }
            for index, w in enumerate(self.acd.waiting(group), start=1)
        ]


def coalesce_states(rows: list[acd_repo.StateRow]) -> list[acd_repo.StateRow]:
    """Drop a change that repeats the same agent's previous change in the batch (same
    state, reason and phone): it would only split one period into two rows. Every real
    transition is kept; ``record_states`` closes and opens the rows in one transaction."""
    last: dict[int, tuple[str, str, str]] = {}
    kept: list[acd_repo.StateRow] = []
    for row in rows:
        key = (row.state, row.reason, row.interface)
        if last.get(row.user_id) == key:
            continue
        last[row.user_id] = key
        kept.append(row)
    return kept
