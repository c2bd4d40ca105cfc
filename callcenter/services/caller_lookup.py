"""One load of a caller's file per call, shared by routing and the screen-pop.

The ACD needs to know who calls (VIP, open ticket, that ticket's agent) to route the
call; the agent desk needs the same caller's history for the pop. Loaded apart, that
was two database sessions and seven statements per call, and at 40 calls/s the two
lookups were about a quarter of the daemon's CPU (issue 19). Now whichever asks first
starts the load, keyed by the caller's number, and the other joins it: the routing
profile is read off the history (``acd.profile_of``).

A load is shared only briefly (``SHARE_SECONDS``, the gap between the call entering
the PBX and its routing request) and forgotten when the caller's call ends, so the
caller's next call sees what this one left (its ticket, its call). Nobody cancels a
shared load: a consumer that gives up (a pop that timed out, a call that ended)
stops waiting for it, and the load finishes for whoever still waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.core.phones import Phone, normalize_phone
from callcenter.core.screenpop import EMPTY_HISTORY, CallerHistory
from callcenter.db.repos import acd as acd_repo
from callcenter.db.repos import history as history_repo

log = logging.getLogger(__name__)

#: How long a started load is handed to whoever asks for the same number.
SHARE_SECONDS = 5.0


@dataclass(frozen=True)
class CallerFile:
    """Who calls: the pop's history and the routing profile read off it."""

    history: CallerHistory
    profile: acd_repo.CallerProfile

    @property
    def customer_id(self) -> int | None:
        return self.profile.customer_id


NOBODY = CallerFile(EMPTY_HISTORY, acd_repo.CallerProfile())


@dataclass
class _Load:
    task: asyncio.Task[CallerFile]
    started: float


class CallerLookups:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        *,
        share_seconds: float = SHARE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._share_seconds = share_seconds
        self._monotonic = monotonic
        self._loads: dict[str, _Load] = {}
        self.loads_started = 0

    def load(self, number: str | None) -> asyncio.Future[CallerFile]:
        """The caller's file: a load already running for this number, else a new one.

        Await it through ``asyncio.shield`` when waiting with a timeout: it is shared."""
        phone = normalize_phone(number)
        if not isinstance(phone, Phone):  # withheld, anonymous or not a number: nobody
            done: asyncio.Future[CallerFile] = asyncio.get_running_loop().create_future()
            done.set_result(NOBODY)
            return done
        now = self._monotonic()
        self._sweep(now)
        entry = self._loads.get(phone.e164)
        if entry is not None and not _failed(entry.task):
            return entry.task
        task = asyncio.ensure_future(self._load(phone.e164))
        task.set_name(f"caller-lookup-{phone.e164}")
        task.add_done_callback(_retrieve)
        self._loads[phone.e164] = _Load(task, now)
        self.loads_started += 1
        return task

    def forget(self, number: str | None) -> None:
        """The caller's call ended: their next call loads afresh."""
        phone = normalize_phone(number)
        if isinstance(phone, Phone):
            self._loads.pop(phone.e164, None)

    def _sweep(self, now: float) -> None:
        limit = now - self._share_seconds
        for number in [k for k, v in self._loads.items() if v.started < limit]:
            del self._loads[number]

    async def _load(self, number: str) -> CallerFile:
        async with self._sessions() as session:
            history = await history_repo.caller_history(session, number)
        return CallerFile(history, acd_repo.profile_of(history))


def _failed(task: asyncio.Task[CallerFile]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _retrieve(task: asyncio.Task[CallerFile]) -> None:
    """A failed load whose waiters all gave up is still not an unretrieved exception."""
    if not task.cancelled():
        task.exception()
