"""In-process publish/subscribe of domain events (call_offered, call_answered, ...).

The core publishes facts; adapters (database writer, websocket fan-out,
metrics) subscribe. Handlers are plain callables run synchronously in publish
order; an async adapter schedules its own work. A failing handler is logged and
never stops the others or the publisher.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[["DomainEvent"], None]


@dataclass(frozen=True, slots=True)
class DomainEvent:
    name: str
    data: dict[str, Any] = field(default_factory=dict)


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._wildcard: list[Handler] = []

    def subscribe(self, name: str, handler: Handler) -> Callable[[], None]:
        """Subscribe to one event name, or ``"*"`` for all; returns an unsubscribe function."""
        target = self._wildcard if name == "*" else self._handlers[name]
        target.append(handler)
        return lambda: target.remove(handler)

    def publish(self, name: str, **data: Any) -> DomainEvent:
        event = DomainEvent(name, data)
        for handler in [*self._handlers.get(name, ()), *self._wildcard]:
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, name)
        return event
