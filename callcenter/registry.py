"""The application's shared objects, as typed aiohttp ``AppKey``s: the only way code reaches them.

This module belongs to no adapter: the web pages, the AMI and FastAGI adapters and the
services all read the same settings, clock, bus, metrics and database through these keys,
so none of them has to import another (the import rules in ``pyproject.toml`` check it).
A key that only one adapter fills and reads stays in that adapter (e.g. ``AMI_LINK``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.core.bus import EventBus
from callcenter.core.call_control import CallControl
from callcenter.core.calltracker import CallTracker
from callcenter.metrics import Metrics


@dataclass
class LinkStatus:
    """Whether an outside link (AMI) is up; adapters flip it, /healthz reads it."""

    connected: bool = False
    detail: str = "not started"


SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)  # type: ignore[type-abstract]
BUS = web.AppKey("bus", EventBus)
METRICS = web.AppKey("metrics", Metrics)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER: web.AppKey[async_sessionmaker[Any]] = web.AppKey("sessionmaker")
AMI_STATUS = web.AppKey("ami_status", LinkStatus)
#: Stop the daemon with a one-line reason (a supervised task that cannot go on). Set by
#: ``daemon.serve`` only: an app built by a test has no daemon to stop, so read it with ``get``.
SHUTDOWN: web.AppKey[Callable[[str], None]] = web.AppKey("shutdown")
#: The live calls as the AMI adapter tracks them (the ``ami`` plugin sets it).
CALL_TRACKER = web.AppKey("call_tracker", CallTracker)
#: The one call-control port: set by a test or embedder, else the ``ami`` plugin sets its
#: implementation over the AMI link. The ACD, the agent page and listen-in all use it.
CALL_CONTROL = web.AppKey("call_control", CallControl)  # type: ignore[type-abstract]
#: Called with a ticket's id after the wrap-up save committed it: the tickets room
#: announces it and shows it in the live inboxes. Unset when that room is not installed.
TICKET_SAVED: web.AppKey[Callable[[int], Awaitable[None]]] = web.AppKey("ticket_saved")
