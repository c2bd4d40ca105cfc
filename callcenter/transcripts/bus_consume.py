"""Queue a transcription when a recorded call ends or a voicemail is left."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.bus import EventBus
from callcenter.core.events import CallbackTaskCreated, CallEnded
from callcenter.db.models import Task
from callcenter.transcripts.services import TranscriptionService

log = logging.getLogger(__name__)

VOICEMAIL_NOTE = re.compile(r"voicemail-([\w.\-]+)\.wav")


class RecordingsToTranscribe:
    def __init__(self, service: TranscriptionService, sessions: async_sessionmaker[Any]) -> None:
        self._service = service
        self._sessions = sessions
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, bus: EventBus) -> Callable[[], None]:
        unsubscribers = [
            bus.subscribe(CallEnded, self.on_call_ended),
            bus.subscribe(CallbackTaskCreated, self.on_task_created),
        ]

        def unsubscribe_all() -> None:
            for unsubscribe in unsubscribers:
                unsubscribe()

        return unsubscribe_all

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queueing a transcription failed", exc_info=task.exception())

    def on_call_ended(self, event: CallEnded) -> None:
        """Only conversations: MixMonitor starts before routing, so an abandoned call's
        file (if Asterisk left one) holds the prompts and the hold music, nothing to read."""
        if event.record.recording_path and event.record.answered_at is not None:
            self._spawn(self._service.enqueue("call", event.linkedid, event.record.recording_path))

    def on_task_created(self, event: CallbackTaskCreated) -> None:
        if event.origin == "voicemail":
            self._spawn(self._voicemail(event.task_id))

    async def _voicemail(self, task_id: int) -> None:
        async with self._sessions() as session:
            task = await session.get(Task, task_id)
        found = VOICEMAIL_NOTE.search(task.notes) if task is not None else None
        if found:
            await self._service.enqueue("voicemail", found.group(1), found.group(0))

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
