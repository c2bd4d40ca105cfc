"""Bus events → the wallboard's state → coalesced pushes to every open wallboard.

Handlers only update :class:`~callcenter.supervisor.board.Wallboard` (cheap, in the
bus's loop turn) and wake the pusher. The pusher sends at most one snapshot per
``push_interval`` seconds however many events arrived (at 20 calls/s dozens a second),
builds it once, encodes it once and offers the same string to every screen, so the cost
grows with time, not with events, and only while a wallboard is open. Times (waits,
time in state) tick in the page from the ``since`` instants: no push per second.
Ticket and callback summaries are read from the database every ``summary_every``
seconds, and soon after a ticket or callback event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.core.bus import EventBus
from callcenter.core.events import (
    AgentStateChanged,
    CallAnswered,
    CallbackTaskCreated,
    CallEnded,
    CallerIdChanged,
    CallStarted,
    CallTransferred,
    ConfigChanged,
    QueueChanged,
    TicketChanged,
)
from callcenter.services.acd import AcdService
from callcenter.supervisor import services
from callcenter.supervisor.board import Wallboard
from callcenter.supervisor.hub import BoardHub, encode

log = logging.getLogger(__name__)


class AcdBoardView:
    """The ACD service as the board reads it: its public read functions plus a
    read-only look at its agents and calls (nothing is changed through here)."""

    def __init__(self, service: AcdService) -> None:
        self.service = service

    def agent_at_phone(self, interface: str) -> int | None:
        return self.service.agent_at_phone(interface)

    def waiting_snapshot(self, group: str | None = None) -> Any:
        return self.service.waiting_snapshot(group)

    def phones_in_use(self) -> dict[str, int]:
        return self.service.phones_in_use()

    def calls_in_progress(self) -> int:
        return len(self.service.acd.calls)

    def wallboard_agents(self) -> list[dict[str, Any]]:
        return [
            {
                "id": agent.id,
                "name": agent.name,
                "state": str(agent.state),
                "reason": agent.reason,
                "since": agent.state_since.isoformat() if agent.state_since else None,
                "calls_today": agent.calls_today,
            }
            for agent in self.service.acd.agents.values()
        ]


class BoardFeed:
    """Subscribes the board, pushes its snapshots and refreshes its database summaries."""

    def __init__(
        self,
        board: Wallboard,
        hub: BoardHub,
        sessions: async_sessionmaker[AsyncSession],
        *,
        push_interval: float = 0.25,
        summary_every: float = 30.0,
    ) -> None:
        self.board = board
        self.hub = hub
        self.sessions = sessions
        self.push_interval = push_interval
        self.summary_every = summary_every
        self._dirty = asyncio.Event()
        self._summaries_due = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = []
        self._sent_version = -1
        #: pushes made, their CPU seconds and bytes (the benchmark and /metrics read them)
        self.pushes = 0
        self.push_cpu_seconds = 0.0
        self.push_bytes = 0

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, bus: EventBus) -> None:
        board = self.board

        def changed(handler: Callable[[Any], None]) -> Callable[[Any], None]:
            def run(event: Any) -> None:
                handler(event)
                self._dirty.set()

            return run

        self._unsubscribe = [
            bus.subscribe(CallStarted, board.on_call_started),
            bus.subscribe(CallerIdChanged, changed(board.on_caller_id_changed)),
            bus.subscribe(CallAnswered, changed(board.on_call_answered)),
            bus.subscribe(CallTransferred, changed(board.on_call_transferred)),
            bus.subscribe(CallEnded, changed(board.on_call_ended)),
            bus.subscribe(AgentStateChanged, changed(board.on_agent_state)),
            bus.subscribe(QueueChanged, changed(lambda _e: board.queue_changed())),
            bus.subscribe(TicketChanged, lambda _e: self._summaries_due.set()),
            bus.subscribe(CallbackTaskCreated, lambda _e: self._summaries_due.set()),
            bus.subscribe(ConfigChanged, self._on_config_changed),
        ]

    def unsubscribe(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_config_changed(self, _event: ConfigChanged) -> None:
        self._summaries_due.set()  # the reload task re-reads names and thresholds too

    def wake(self) -> None:
        """Push soon (a new screen connected, or something outside the bus changed)."""
        self._dirty.set()

    # ------------------------------------------------------------------ start-up
    async def load(self) -> None:
        """Names, thresholds and today's earlier calls (once at start-up)."""
        async with self.sessions() as session:
            config = await services.load_board_config(session)
            self.board.thresholds = config.thresholds
            self.board.group_names = config.group_names
            self.board.roll_day()
            calls, wrapups = await services.todays_history(session, self.board.day, self.board.zone)
            self.board.seed(calls, wrapups)
            self.board.summaries = await services.summaries(session, self.board.clock.now())
        self._dirty.set()

    # ------------------------------------------------------------------ background loops
    def push_now(self) -> int:
        """Build, encode and offer one snapshot to every open screen; returns its size."""
        started = time.thread_time()
        text = encode(self.board.snapshot())
        self.hub.broadcast(text)
        self.pushes += 1
        self.push_cpu_seconds += time.thread_time() - started
        self.push_bytes += len(text.encode())
        return len(text)

    async def run_pusher(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.hub.connections:
                self.push_now()
            await asyncio.sleep(self.push_interval)

    async def run_summaries(self) -> None:
        """Re-read tickets and callbacks every ``summary_every`` s, or about a second
        after a ticket/callback/config event (several events: one read)."""
        while True:
            try:
                async with asyncio.timeout(self.summary_every):
                    await self._summaries_due.wait()
                await asyncio.sleep(1.0)  # let a burst of events settle into one read
            except TimeoutError:
                pass
            self._summaries_due.clear()
            async with self.sessions() as session:
                config = await services.load_board_config(session)
                self.board.summaries = await services.summaries(session, self.board.clock.now())
                if config.thresholds != self.board.thresholds:
                    # the day's calls were counted against the old limits: count them again
                    self.board.thresholds = config.thresholds
                    calls, wrapups = await services.todays_history(
                        session, self.board.day, self.board.zone
                    )
                    self.board.seed(calls, wrapups)
            self.board.group_names = config.group_names
            self.board.queue_changed()
            self._dirty.set()


#: The application's feed (set by ``plugin.setup``).
FEED = web.AppKey("wallboard_feed", BoardFeed)

__all__ = ["FEED", "AcdBoardView", "BoardFeed"]
