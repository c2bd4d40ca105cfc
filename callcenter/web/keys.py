"""Typed application state (aiohttp ``AppKey``): the only way handlers reach shared objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.core.bus import EventBus
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
