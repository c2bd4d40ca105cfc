"""The notification outbox: enqueue in the caller's transaction, deliver with backoff.

Delivery claims due rows first (state ``sending`` and a lease: if the process dies
mid-send, the row becomes due again when the lease ends), sends outside any
transaction, then records the result. A row is never deleted: ``sent``, or ``failed``
after ``max_attempts`` or a permanent refusal (it stays visible on its ticket and can
be queued again with :func:`retry`). PostgreSQL workers skip rows another worker holds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.clock import Clock
from callcenter.db.models import Notification
from callcenter.i18n import N_

log = logging.getLogger(__name__)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PRINT = "print"


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


STATE_LABELS = {
    State.QUEUED: N_("Queued"),
    State.SENDING: N_("Sending"),
    State.SENT: N_("Sent"),
    State.FAILED: N_("Failed"),
}
CHANNEL_LABELS = {
    Channel.EMAIL: N_("Email"),
    Channel.SMS: N_("SMS"),
    Channel.PRINT: N_("Print"),
}


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What a sender needs; the same Message-ID on every attempt."""

    id: int
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    message_id: str
    attempt: int


class DeliveryError(Exception):
    """A sender's refusal. ``permanent``: retrying cannot help (bad address, 5xx)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> None:
        """Deliver or raise (``DeliveryError`` or any error: retried unless permanent)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 30.0  # seconds before the 2nd attempt
    factor: float = 2.0
    ceiling: float = 3600.0
    max_attempts: int = 12  # ~8 hours of trying with the defaults
    lease: float = 300.0  # a claimed row is due again after this if nobody records it

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt (1-based)."""
        seconds = min(self.first * self.factor ** max(attempts - 1, 0), self.ceiling)
        return timedelta(seconds=seconds)


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


async def enqueue(
    session: AsyncSession,
    *,
    channel: Channel | str,
    recipient: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    kind: str = "",
    ticket_id: int | None = None,
    now: datetime,
    domain: str = "callcenter.local",
) -> Notification:
    """Add a notification to the outbox in the caller's transaction (it goes out only if
    that transaction commits)."""
    recipient = recipient.strip()
    if not recipient:
        raise ValueError("a notification needs a recipient")
    row = Notification(
        channel=str(Channel(channel)),
        kind=kind,
        recipient=recipient[:200],
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        message_id=new_message_id(domain),
        state=str(State.QUEUED),
        attempts=0,
        next_attempt_at=now,
        last_error="",
        ticket_id=ticket_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _claim(
    factory: async_sessionmaker[Any],
    now: datetime,
    batch: int,
    channels: Sequence[str],
    policy: Backoff,
) -> list[OutgoingMessage]:
    async with factory() as session:
        query = (
            select(Notification)
            .where(
                Notification.state.in_([str(State.QUEUED), str(State.SENDING)]),
                Notification.next_attempt_at <= now,
                Notification.channel.in_(list(channels)),
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.scalars(query)).all()
        claimed = []
        for row in rows:
            row.state = str(State.SENDING)
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=policy.lease)
            claimed.append(
                OutgoingMessage(
                    row.id,
                    row.channel,
                    row.recipient,
                    row.subject,
                    row.body_text,
                    row.body_html,
                    row.message_id,
                    row.attempts,
                )
            )
        await session.commit()
        return claimed


async def _record(
    factory: async_sessionmaker[Any],
    message: OutgoingMessage,
    error: BaseException | None,
    now: datetime,
    policy: Backoff,
) -> None:
    async with factory() as session:
        row = await session.get(Notification, message.id, with_for_update=True)
        if row is None:
            return
        if error is None:
            row.state = str(State.SENT)
            row.sent_at = now
            row.last_error = ""
        else:
            permanent = isinstance(error, DeliveryError) and error.permanent
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if permanent or row.attempts >= policy.max_attempts:
                row.state = str(State.FAILED)
            else:
                row.state = str(State.QUEUED)
                row.next_attempt_at = now + policy.delay(row.attempts)
        await session.commit()


async def deliver_due(
    session_factory: async_sessionmaker[Any],
    senders: Mapping[str, Sender],
    clock: Clock,
    *,
    batch: int = 20,
    policy: Backoff = Backoff(),
) -> int:
    """One delivery round: claim due rows, send them, record each result. Returns the
    number sent. Channels without a sender are left queued."""
    claimed = await _claim(session_factory, clock.now(), batch, list(senders), policy)
    sent = 0
    for message in claimed:
        error: BaseException | None = None
        try:
            await senders[message.channel].send(message)
        except asyncio.CancelledError:
            raise  # the lease brings the row back after a restart
        except Exception as caught:  # every failure is recorded on the row and retried
            error = caught
            log.warning(
                "notification %s (%s to %s) attempt %s failed: %s",
                message.id,
                message.channel,
                message.recipient,
                message.attempt,
                caught,
            )
        await _record(session_factory, message, error, clock.now(), policy)
        sent += error is None
    return sent


async def run_outbox(
    session_factory: async_sessionmaker[Any],
    senders: Mapping[str, Sender],
    clock: Clock,
    *,
    idle_seconds: float = 5.0,
    wake: asyncio.Event | None = None,
    policy: Backoff = Backoff(),
) -> None:
    """Deliver forever (run it under the task supervisor; cancel to stop). Sleeps
    ``idle_seconds`` when nothing was due, or until ``wake`` is set after an enqueue.
    A failing round (database down) is logged once until it recovers."""
    failing = False
    while True:
        try:
            sent = await deliver_due(session_factory, senders, clock, policy=policy)
            if failing:
                log.info("notification outbox recovered")
                failing = False
        except asyncio.CancelledError:
            raise
        except Exception:
            if not failing:
                log.exception("notification outbox round failed; retrying")
                failing = True
            sent = 0
        if sent:
            continue
        if wake is None:
            await clock.sleep(idle_seconds)
            continue
        try:
            async with asyncio.timeout(idle_seconds):
                await wake.wait()
        except TimeoutError:
            pass
        wake.clear()


async def retry(session: AsyncSession, notification_id: int, *, now: datetime) -> Notification:
    """Queue a failed notification again (a person fixed the address or the gateway)."""
    row = await session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        raise LookupError(f"notification {notification_id} does not exist")
    if row.state != State.FAILED:
        raise ValueError("only a failed notification can be retried")
    row.state = str(State.QUEUED)
    row.next_attempt_at = now
    row.attempts = 0
    await session.flush()
    return row


async def notifications_of(session: AsyncSession, ticket_id: int) -> Sequence[Notification]:
    """Delivery status for the ticket page, oldest first."""
    rows = await session.scalars(
        select(Notification).where(Notification.ticket_id == ticket_id).order_by(Notification.id)
    )
    return rows.all()
