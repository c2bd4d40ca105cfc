"""In-process publish/subscribe of typed domain events.

The core publishes facts as frozen dataclasses (``callcenter.core.events``);
adapters (database writer, websocket fan-out, metrics, the ACD) subscribe by
type: ``bus.subscribe(CallAnswered, handler)``. A subscription to a base class
(:class:`DomainEvent`, ``CallFact``) receives every subclass, which replaces the
old ``"*"`` wildcard. mypy checks that a handler takes the type it subscribes to.

Handlers run synchronously in publish order inside the publisher's call (no
threads, no queue): an async adapter either schedules its own work or passes
an ``async def`` handler, whose coroutine the bus starts as a task on the running
loop. A failing handler never stops the others or the publisher: its first
failure is logged with the event type, the handler's name and the traceback;
repeats of the same (handler, event type) are counted and logged again only at
the 10th, 100th, 1000th … failure, so a broken subscriber cannot flood the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)


class DomainEvent:
    """Base of every domain event (frozen dataclasses with slots)."""

    __slots__ = ()


E = TypeVar("E", bound=DomainEvent)
#: A subscriber: a plain function, or an ``async def`` the bus runs as a task.
Handler = Callable[[E], None] | Callable[[E], Awaitable[None]]


def handler_name(handler: Callable[..., Any]) -> str:
    """``AcdService._on_call_answered`` rather than a bound-method repr with an address."""
    return getattr(handler, "__qualname__", None) or repr(handler)


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Callable[[Any], Any]]] = defaultdict(list)
        self._failures: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def subscribe(self, event_type: type[E], handler: Handler[E]) -> Callable[[], None]:
        """Call ``handler`` for every published ``event_type`` (and its subclasses);
        returns the function that unsubscribes it."""
        target = self._handlers[event_type]
        target.append(handler)

        def unsubscribe() -> None:
            if handler in target:
                target.remove(handler)

        return unsubscribe

    def publish(self, event: DomainEvent) -> None:
        """Run every subscriber of ``event``'s type and base types, most specific first."""
        for event_type in type(event).__mro__:
            for handler in list(self._handlers.get(event_type, ())):
                try:
                    result = handler(event)
                    if asyncio.iscoroutine(result):
                        self._start(result, handler, event)
                except Exception:
                    self._failed(handler, event)

    def _start(self, coroutine: Any, handler: Callable[..., Any], event: DomainEvent) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                try:
                    raise finished.exception()  # type: ignore[misc]
                except Exception:
                    self._failed(handler, event)

        task.add_done_callback(done)

    def _failed(self, handler: Callable[..., Any], event: DomainEvent) -> None:
        """Log with the traceback (we are inside the ``except``), rate-limited per key."""
        key = (handler_name(handler), type(event).__name__)
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        if count == 1:
            log.exception("event handler %s failed on %s", key[0], key[1])
        elif count in (10, 100, 1000) or count % 10_000 == 0:
            log.exception("event handler %s failed on %s (%d times so far)", key[0], key[1], count)

    def failures(self, handler: Callable[..., Any], event_type: type[DomainEvent]) -> int:
        """How often ``handler`` has failed on ``event_type`` (health, tests)."""
        return self._failures.get((handler_name(handler), event_type.__name__), 0)

    async def drain(self) -> None:
        """Wait for the async handlers started so far (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
