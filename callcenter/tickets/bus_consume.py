"""The live inbox: ``TicketChanged`` bus events → the event streams of the open inboxes.

Each open inbox page holds one server-sent-events stream (``GET /tickets/inbox/events``)
with a small bounded queue. An event goes to the streams that show the ticket: its
department's staff, its holder, and supervisors and admins. A page that does not read is
sent nothing more (its queue is full) until it reconnects; the page only needs to know
"something changed" and reloads its rows, so a dropped message loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.core.bus import EventBus
from callcenter.core.events import TicketChanged
from callcenter.core.roles import Role

log = logging.getLogger(__name__)

QUEUE_SIZE = 32
CLOSE = None  # put on a queue to end its stream (daemon shutting down)


@dataclass(eq=False)
class InboxStream:
    user_id: int
    role: Role
    department_id: int | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )

    def wants(self, event: TicketChanged) -> bool:
        if self.role in (Role.SUPERVISOR, Role.ADMIN):
            return True
        if self.user_id == event.assignee_id:
            return True
        return self.role is Role.DEPARTMENT and self.department_id == event.department_id


@dataclass
class LiveInbox:
    streams: set[InboxStream] = field(default_factory=set)

    def open(self, stream: InboxStream) -> None:
        self.streams.add(stream)

    def close(self, stream: InboxStream) -> None:
        self.streams.discard(stream)

    def on_ticket_changed(self, event: TicketChanged) -> None:
        message = {"code": event.code, "change": event.change, "status": event.status}
        for stream in list(self.streams):
            if stream.wants(event):
                # a full queue: the page is behind; its next reload shows everything anyway
                with contextlib.suppress(asyncio.QueueFull):
                    stream.queue.put_nowait(message)

    def subscribe(self, bus: EventBus) -> Callable[[], None]:
        return bus.subscribe(TicketChanged, self.on_ticket_changed)

    def close_all(self) -> None:
        for stream in list(self.streams):
            try:
                stream.queue.put_nowait(CLOSE)
            except asyncio.QueueFull:
                stream.queue.get_nowait()
                stream.queue.put_nowait(CLOSE)


#: The open inbox streams on the application (set by ``plugin.setup``).
LIVE_INBOX = web.AppKey("live_inbox", LiveInbox)
