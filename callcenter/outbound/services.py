"""The outbound room's work: building lists (from a filter, or from an Excel import run
by the customer importer), recording a lead call's outcome, and the live progress feed
the supervisors' campaign page listens to (server-sent events)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter import localtime
from callcenter.clock import Clock
from callcenter.core.outbound import N_, OpportunityInput, OutboundRuleError
from callcenter.db.models import CustomerImport, Survey
from callcenter.db.repos import outbound as repo
from callcenter.excel import importer

QUEUE_SIZE = 16


@dataclass(eq=False)
class ProgressStream:
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )


class ProgressHub:
    """The open campaign pages' streams; a page that does not read misses messages, which
    loses nothing (each message carries the whole progress of its campaign)."""

    def __init__(self) -> None:
        self.streams: set[ProgressStream] = set()

    def open(self) -> ProgressStream:
        stream = ProgressStream()
        self.streams.add(stream)
        return stream

    def close(self, stream: ProgressStream) -> None:
        self.streams.discard(stream)

    def publish(self, message: dict[str, Any]) -> None:
        for stream in list(self.streams):
            with contextlib.suppress(asyncio.QueueFull):
                stream.queue.put_nowait(message)

    def close_all(self) -> None:
        for stream in list(self.streams):
            with contextlib.suppress(asyncio.QueueFull):
                stream.queue.put_nowait(None)


PROGRESS_HUB: web.AppKey[ProgressHub] = web.AppKey("outbound_progress_hub", ProgressHub)


@dataclass
class ListRequest:
    kind: str
    name: str
    order_by: str = "priority"
    agent_ids: list[int] = field(default_factory=list)
    group: str = ""
    max_attempts: int = 3
    script: str = ""
    survey_id: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class ImportNotReady(ValueError):
    """The chosen import is not a previewed one (preview it first)."""


def check_period(request: ListRequest) -> None:
    if request.starts_on and request.ends_on and request.ends_on < request.starts_on:
        raise OutboundRuleError(N_("The campaign ends before it starts"))


async def list_from_filter(
    sessions: async_sessionmaker[Any],
    request: ListRequest,
    wanted: repo.CustomerFilter,
    *,
    now: datetime,
    created_by_id: int | None,
    zone: Any = localtime.DEFAULT_ZONE,
) -> repo.ListSummary:
    async with sessions() as session, session.begin():
        ids = await repo.customers_matching(session, wanted)
        return await _create(
            session, request, ids, "filter", now, created_by_id, wanted.as_json(), zone=zone
        )


async def list_from_import(
    sessions: async_sessionmaker[Any],
    request: ListRequest,
    import_id: int,
    *,
    clock: Clock,
    actor: Any,
    translate: Any,
    created_by_id: int | None,
    zone: Any = localtime.DEFAULT_ZONE,
) -> tuple[repo.ListSummary, importer.ImportCounts]:
    """Import a previewed workbook with the customer importer (same rows, same rejected-rows
    file as the customers' import page) and make a list of exactly its customers."""
    check_period(request)
    async with sessions() as session:
        batch = await session.get(CustomerImport, import_id)
        if batch is None or batch.status != "previewed":
            raise ImportNotReady(import_id)
    imported: set[int] = set()
    counts = await importer.run(
        sessions,
        import_id,
        dry_run=False,
        clock=clock,
        actor=actor,
        translate=translate,
        collect=imported,
    )
    async with sessions() as session, session.begin():
        summary = await _create(
            session, request, sorted(imported), "import", clock.now(), created_by_id, {},
            import_id=import_id, zone=zone,
        )  # fmt: skip
    return summary, counts


async def _create(
    session: Any,
    request: ListRequest,
    ids: list[int],
    source: str,
    now: datetime,
    created_by_id: int | None,
    filter_json: dict[str, Any],
    *,
    import_id: int | None = None,
    zone: Any = localtime.DEFAULT_ZONE,
) -> repo.ListSummary:
    """The list's calls are due at once, or from the campaign's first day (local time)."""
    check_period(request)
    if request.survey_id is not None:
        survey = await session.get(Survey, request.survey_id)
        if survey is None or not survey.active:
            raise OutboundRuleError(N_("The campaign's survey does not exist or is not active"))
    due_at = now
    if request.starts_on is not None:
        due_at = max(now, localtime.day_bounds(request.starts_on, zone)[0])
    return await repo.create_list(
        session,
        kind=request.kind,
        name=request.name,
        customer_ids=ids,
        source=source,
        now=now,
        filter_json=filter_json,
        import_id=import_id,
        order_by=request.order_by,
        agent_ids=request.agent_ids,
        group=request.group,
        max_attempts=request.max_attempts,
        script=request.script,
        survey_id=request.survey_id,
        starts_on=request.starts_on,
        ends_on=request.ends_on,
        created_by_id=created_by_id,
        due_at=due_at,
    )


async def record_outcome(
    sessions: async_sessionmaker[Any],
    hub: ProgressHub,
    task_id: int,
    outcome: str,
    *,
    user_id: int,
    now: datetime,
    retry_at: datetime | None,
    reason: str,
    conversion: str,
    opportunity: OpportunityInput | None,
) -> repo.OutcomeResult:
    """Record the outcome, then tell the open campaign pages the list's new progress."""
    async with sessions() as session, session.begin():
        result = await repo.record_lead_outcome(
            session,
            task_id,
            outcome,
            user_id=user_id,
            now=now,
            retry_at=retry_at,
            reason=reason,
            conversion=conversion,
            opportunity=opportunity,
        )
    await publish_progress(sessions, hub, result.item.list_id)
    return result


async def publish_progress(
    sessions: async_sessionmaker[Any], hub: ProgressHub, list_id: int
) -> None:
    if not hub.streams:
        return
    async with sessions() as session:
        progress = await repo.campaign_progress(session, [list_id])
    hub.publish({"list_id": list_id, **progress[list_id]})


__all__ = [
    "PROGRESS_HUB",
    "ImportNotReady",
    "ListRequest",
    "ProgressHub",
    "list_from_filter",
    "list_from_import",
    "publish_progress",
    "record_outcome",
]
