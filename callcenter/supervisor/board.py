"""The wallboard's live state: what the floor looks like now, as one JSON-ready snapshot.

It is fed by the bus (``bus_consume.py`` subscribes it) and reads the ACD service for
what the ACD alone knows (agents' states, waiting callers). Today's counters are kept in
memory (:class:`~callcenter.core.wallboard.DayTotals`), seeded once from the database
at start-up and added to as each call ends, so a push costs no query. Tickets and
callback tasks change rarely and are summarised from the database in the background.

Names and numbers go out as data; the page writes them with ``textContent`` (never as
HTML), and every code (state, pause reason) is translated by the page from labels the
server rendered in the viewer's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from aiohttp import web

from callcenter import localtime
from callcenter.clock import Clock
from callcenter.core.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerIdChanged,
    CallStarted,
    CallTransferred,
)
from callcenter.core.interfaces import interface_key
from callcenter.core.wallboard import DayTotals, KpiThresholds
from callcenter.services.acd import ANONYMOUS_NAMES, is_anonymous

#: Agents' states in the order the board lists them (busiest first).
STATE_ORDER = ("on_call", "ringing", "wrapup", "available", "paused", "logged_out")


class AcdReader(Protocol):
    """What the board reads from the ACD service (``services.acd.AcdService``)."""

    def agent_at_phone(self, interface: str) -> int | None: ...

    def waiting_snapshot(self, group: str | None = None) -> Any: ...

    def wallboard_agents(self) -> list[dict[str, Any]]: ...

    def calls_in_progress(self) -> int: ...

    def phones_in_use(self) -> dict[str, int]: ...


@dataclass(slots=True)
class Talk:
    """Who an agent talks to now (an answered call), and the channel a supervisor spies on."""

    linkedid: str
    caller_number: str
    caller_name: str
    since: datetime
    agent_channel: str


@dataclass(slots=True)
class CallerId:
    number: str
    name: str


@dataclass
class Summaries:
    """Open tickets per department, the overdue count and open callbacks (from the database)."""

    departments: list[dict[str, Any]] = field(default_factory=list)
    overdue: int = 0
    open_tickets: int = 0
    callbacks_open: int = 0
    oldest_callback: datetime | None = None


class Wallboard:
    def __init__(
        self,
        clock: Clock,
        *,
        zone: Any = localtime.DEFAULT_ZONE,
        thresholds: KpiThresholds | None = None,
    ) -> None:
        self.clock = clock
        self.zone = zone
        self.thresholds = thresholds or KpiThresholds()
        self.acd: AcdReader | None = None
        self.day: date = localtime.local_date(clock.now(), zone)
        self.totals = DayTotals()
        self.callers: dict[str, CallerId] = {}
        self.talking: dict[int, Talk] = {}
        #: agent → end of the answered call whose after-call work is still to be timed
        self.wrapup_pending: dict[int, datetime] = {}
        self.summaries = Summaries()
        self.group_names: dict[str, str] = {}
        #: bumped on every change; the pusher sends when it moved
        self.version = 0

    # ------------------------------------------------------------------ the day
    def roll_day(self) -> bool:
        """Start a new day's counters at local midnight; True when it rolled."""
        today = localtime.local_date(self.clock.now(), self.zone)
        if today == self.day:
            return False
        self.day = today
        self.totals = DayTotals()
        self.version += 1
        return True

    def seed(self, calls: list[tuple[str, float, float, float]], wrapups: list[float]) -> None:
        """Today's calls that ended before start-up (disposition, wait, talk, hold) and the
        wrap-up times of today's answered calls; replaces the counters."""
        totals = DayTotals()
        for disposition, wait, talk, hold in calls:
            totals.add_call(
                disposition=disposition,
                wait_seconds=wait,
                talk_seconds=talk,
                hold_seconds=hold,
                thresholds=self.thresholds,
            )
        for seconds in wrapups:
            totals.add_wrapup(seconds)
        self.totals = totals
        self.version += 1

    def _is_today(self, instant: datetime) -> bool:
        return localtime.local_date(instant, self.zone) == self.day

    # ------------------------------------------------------------------ bus events
    def on_call_started(self, event: CallStarted) -> None:
        self.callers[event.linkedid] = CallerId(event.caller_number, event.caller_name)

    def on_caller_id_changed(self, event: CallerIdChanged) -> None:
        known = self.callers.get(event.linkedid)
        if known is not None:
            known.number = event.caller_number or known.number
            known.name = event.caller_name or known.name
        for talk in self.talking.values():
            if talk.linkedid == event.linkedid:
                talk.caller_number = event.caller_number or talk.caller_number
                talk.caller_name = event.caller_name or talk.caller_name
                self.version += 1

    def on_call_answered(self, event: CallAnswered) -> None:
        agent_id = self.acd.agent_at_phone(event.interface) if self.acd else None
        if agent_id is None:
            return
        caller = self.callers.get(event.linkedid)
        number = event.caller_number or (caller.number if caller else "")
        name = caller.name if caller else ""
        self.talking[agent_id] = Talk(
            linkedid=event.linkedid,
            caller_number="" if is_anonymous(number) else number,  # the page: "withheld"
            caller_name="" if name.strip().lower() in ANONYMOUS_NAMES else name,
            since=event.at,
            agent_channel=event.agent_channel,
        )
        self.version += 1

    def on_call_transferred(self, event: CallTransferred) -> None:
        wanted = interface_key(event.from_interface)
        for agent_id, talk in list(self.talking.items()):
            if talk.linkedid == event.linkedid and interface_key(talk.agent_channel) == wanted:
                del self.talking[agent_id]
                self.version += 1

    def on_call_ended(self, event: CallEnded) -> None:
        self.roll_day()
        self.callers.pop(event.linkedid, None)
        for agent_id, talk in list(self.talking.items()):
            if talk.linkedid == event.linkedid:
                del self.talking[agent_id]
        record = event.record
        if record.direction == "inbound" and self._is_today(record.started_at):
            self.totals.add_call(
                disposition=record.disposition,
                wait_seconds=record.wait_seconds,
                talk_seconds=record.talk_seconds,
                hold_seconds=record.hold_seconds,
                thresholds=self.thresholds,
            )
            if record.disposition == "answered" and self.acd is not None:
                answered_by = self.acd.agent_at_phone(record.agent_interface)
                if answered_by is not None:
                    self.wrapup_pending[answered_by] = record.ended_at or event.at
        self.version += 1

    def on_agent_state(self, event: AgentStateChanged) -> None:
        self.roll_day()
        if event.previous == "wrapup" and event.state != "wrapup":
            # the after-call work of today's call ends: from the call's end until now
            ended = self.wrapup_pending.pop(event.agent_id, None)
            if ended is not None:
                self.totals.add_wrapup((event.at - ended).total_seconds())
        elif event.state == "on_call":
            self.wrapup_pending.pop(event.agent_id, None)  # a new call: no wrap-up was done
        if event.state != "on_call":
            self.talking.pop(event.agent_id, None)
        self.version += 1

    def queue_changed(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------ read side
    def talk_of(self, agent_id: int) -> Talk | None:
        return self.talking.get(agent_id)

    def snapshot(self) -> dict[str, Any]:
        """The whole board as one message (encoded once, sent to every open wallboard)."""
        self.roll_day()
        now = self.clock.now()
        acd = self.acd
        agents = acd.wallboard_agents() if acd is not None else []
        counts = dict.fromkeys(STATE_ORDER, 0)
        for agent in agents:
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
            talk = self.talking.get(agent["id"]) if agent["state"] == "on_call" else None
            agent["caller"] = (
                {"number": talk.caller_number, "name": talk.caller_name, "since": _iso(talk.since)}
                if talk is not None
                else None
            )
        order = {state: index for index, state in enumerate(STATE_ORDER)}
        agents.sort(key=lambda a: (order.get(a["state"], 99), a["since"] or "", a["name"]))
        waiting = [
            {
                "caller": "" if is_anonymous(w["caller"]) else w["caller"],
                "group": w["group"],
                "group_name": self.group_names.get(w["group"], w["group"]),
                "priority": w["priority"],
                "since": w["since"],
                "position": w["position"],
            }
            for w in (acd.waiting_snapshot() if acd is not None else ())
        ]
        oldest_wait = min((w["since"] for w in waiting), default=None)
        live = acd.calls_in_progress() if acd is not None else 0
        summaries = self.summaries
        return {
            "type": "board",
            "now": _iso(now),
            "day": localtime.format_date(self.day),
            "acd": acd is not None,
            "waiting": waiting,
            "longest_wait_since": oldest_wait,
            "agents": agents,
            "agent_counts": counts,
            "today": {
                **self.totals.as_dict(live_calls=live),
                "service_level_seconds": self.thresholds.service_level_seconds,
                "short_abandon_seconds": self.thresholds.short_abandon_seconds,
            },
            "tickets": {
                "open": summaries.open_tickets,
                "overdue": summaries.overdue,
                "departments": summaries.departments,
            },
            "callbacks": {
                "open": summaries.callbacks_open,
                "oldest_since": _iso(summaries.oldest_callback),
            },
        }


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


#: The application's wallboard (set by ``plugin.setup``).
BOARD = web.AppKey("wallboard", Wallboard)

__all__ = ["BOARD", "AcdReader", "Summaries", "Talk", "Wallboard"]
