"""The outbox against a real local SMTP server (aiosmtpd): a server that is down and comes
back gets every message exactly once; a connection cut right after DATA is retried with
the same Message-ID; a permanent refusal stops retrying but keeps the row."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.config import SmtpSettings
from callcenter.db.models import Notification
from callcenter.notify import outbox
from callcenter.notify.email import SmtpSender
from callcenter.notify.sms import LogSmsGateway
from tests.ports import free_port

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class Mailbox:
    """aiosmtpd handler: keeps what it receives; can drop the connection after DATA."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.cut_after_data = 0  # how many next messages to take and then hang up on
        self.refuse_rcpt = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        if self.cut_after_data:
            self.cut_after_data -= 1
            server.transport.close()  # the message is in, the client never hears "250"
        return "250 Message accepted"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def start_server(smtp_port: int, mailbox: Mailbox) -> Iterator[Any]:
    controllers: list[Controller] = []

    def start() -> None:
        controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)

    yield start
    for controller in controllers:
        controller.stop()


def sender_for(port: int, clock: ManualClock) -> SmtpSender:
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="callcenter@hotline.example.vn")
    return SmtpSender(settings, timeout=5, clock=clock)


async def queue_one(factory: async_sessionmaker[Any], **kw: Any) -> int:
    async with factory() as session:
        row = await outbox.enqueue(
            session,
            channel="email",
            recipient=kw.get("recipient", "dichvu@example.vn"),
            subject="Phiếu mới TK-2026-000001: Xe kêu to",
            body_text="Phiếu mới\nhttps://cc.example.vn/tickets/TK-2026-000001",
            body_html='<p><a href="https://cc.example.vn/tickets/TK-2026-000001">TK-2026-000001</a></p>',
            kind="new_ticket",
            now=T0,
            domain="hotline.example.vn",
        )
        await session.commit()
        return row.id


async def load(factory: async_sessionmaker[Any], row_id: int) -> Notification:
    async with factory() as session:
        row = await session.get(Notification, row_id)
        assert row is not None
        return row


async def test_server_down_then_back_delivers_once(
    session_factory: async_sessionmaker[Any], smtp_port: int, mailbox: Mailbox, start_server: Any
) -> None:
    clock = ManualClock(T0)
    senders = {"email": sender_for(smtp_port, clock)}
    row_id = await queue_one(session_factory)
    message_id = (await load(session_factory, row_id)).message_id
    assert message_id.startswith("<") and message_id.endswith("@hotline.example.vn>")

    assert await outbox.deliver_due(session_factory, senders, clock) == 0  # nobody listening
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert "Connect" in row.last_error or "connect" in row.last_error

    await clock.advance(10)
    assert await outbox.deliver_due(session_factory, senders, clock) == 0  # not due yet
    await clock.advance(25)
    assert await outbox.deliver_due(session_factory, senders, clock) == 0  # still down
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("queued", 2)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=60)  # doubled

    start_server()
    await clock.advance(60)
    assert await outbox.deliver_due(session_factory, senders, clock) == 1
    await clock.advance(3600)
    assert await outbox.deliver_due(session_factory, senders, clock) == 0  # nothing left
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts, row.sent_at, row.last_error) == (
        "sent",
        3,
        clock.now() - timedelta(seconds=3600),
        "",
    )
    assert len(mailbox.received) == 1
    got = mailbox.received[0]
    assert got["Message-ID"] == message_id
    assert got["Subject"] == "Phiếu mới TK-2026-000001: Xe kêu to"
    parts = {part.get_content_type(): part for part in got.walk()}
    assert "https://cc.example.vn/tickets/TK-2026-000001" in parts["text/plain"].get_content()
    assert 'href="https://cc.example.vn/tickets/TK-2026-000001"' in parts["text/html"].get_content()


async def test_connection_cut_after_data_is_retried_with_the_same_message_id(
    session_factory: async_sessionmaker[Any], smtp_port: int, mailbox: Mailbox, start_server: Any
) -> None:
    clock = ManualClock(T0)
    senders = {"email": sender_for(smtp_port, clock)}
    start_server()
    mailbox.cut_after_data = 1
    row_id = await queue_one(session_factory)

    assert await outbox.deliver_due(session_factory, senders, clock) == 0
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("queued", 1) and row.last_error
    await clock.advance(30)
    assert await outbox.deliver_due(session_factory, senders, clock) == 1
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("sent", 2)
    # The server got it twice (it could not tell us the first time), as ONE message.
    assert [m["Message-ID"] for m in mailbox.received] == [row.message_id, row.message_id]


async def test_a_permanent_refusal_fails_the_row_and_keeps_it(
    session_factory: async_sessionmaker[Any], smtp_port: int, mailbox: Mailbox, start_server: Any
) -> None:
    clock = ManualClock(T0)
    senders = {"email": sender_for(smtp_port, clock)}
    start_server()
    mailbox.refuse_rcpt = True
    row_id = await queue_one(session_factory, recipient="khong-co@example.vn")
    assert await outbox.deliver_due(session_factory, senders, clock) == 0
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("failed", 1) and "550" in row.last_error
    await clock.advance(7200)
    assert await outbox.deliver_due(session_factory, senders, clock) == 0
    assert (await load(session_factory, row_id)).attempts == 1  # not retried by itself
    mailbox.refuse_rcpt = False
    async with session_factory() as session:
        await outbox.retry(session, row_id, now=clock.now())
        await session.commit()
    assert await outbox.deliver_due(session_factory, senders, clock) == 1
    assert len(mailbox.received) == 1


async def test_a_crash_mid_send_brings_the_row_back_after_the_lease(
    session_factory: async_sessionmaker[Any],
) -> None:
    """A worker that claimed a row and died never records it: after the lease the row is
    due again and goes out; nothing is lost."""
    clock = ManualClock(T0)
    row_id = await queue_one(session_factory)
    policy = outbox.Backoff(lease=120)
    claimed = await outbox._claim(session_factory, clock.now(), 10, ["email"], policy)
    assert [m.id for m in claimed] == [row_id]

    class Collect:
        def __init__(self) -> None:
            self.got: list[outbox.OutgoingMessage] = []

        async def send(self, message: outbox.OutgoingMessage) -> None:
            self.got.append(message)

    collect = Collect()
    assert await outbox.deliver_due(session_factory, {"email": collect}, clock, policy=policy) == 0
    await clock.advance(121)
    assert await outbox.deliver_due(session_factory, {"email": collect}, clock, policy=policy) == 1
    assert [(m.id, m.attempt) for m in collect.got] == [(row_id, 2)]
    assert (await load(session_factory, row_id)).state == "sent"


async def test_gives_up_after_max_attempts_and_channels_without_sender_wait(
    session_factory: async_sessionmaker[Any],
) -> None:
    clock = ManualClock(T0)

    class Down:
        async def send(self, message: outbox.OutgoingMessage) -> None:
            raise ConnectionRefusedError("down")

    policy = outbox.Backoff(first=1, factor=2, ceiling=4, max_attempts=3)
    row_id = await queue_one(session_factory)
    async with session_factory() as session:
        sms = await outbox.enqueue(
            session, channel="sms", recipient="+84912345678", body_text="x", now=T0
        )
        await session.commit()
        sms_id = sms.id
    for _ in range(5):
        await outbox.deliver_due(session_factory, {"email": Down()}, clock, policy=policy)
        await clock.advance(5)
    row = await load(session_factory, row_id)
    assert (row.state, row.attempts) == ("failed", 3) and "down" in row.last_error
    assert (await load(session_factory, sms_id)).state == "queued"  # no SMS sender configured


async def test_run_outbox_delivers_when_woken_and_stops_on_cancel(
    session_factory: async_sessionmaker[Any],
) -> None:
    clock = ManualClock(T0)
    delivered = asyncio.Event()

    class Sms(LogSmsGateway):
        async def send(self, message: outbox.OutgoingMessage) -> None:
            await super().send(message)
            delivered.set()

    sms = Sms()
    wake = asyncio.Event()
    worker = asyncio.create_task(
        outbox.run_outbox(session_factory, {"sms": sms}, clock, idle_seconds=30, wake=wake)
    )
    try:
        async with session_factory() as session:
            await outbox.enqueue(
                session, channel="sms", recipient="+84912345678", body_text="hi", now=T0
            )
            await session.commit()
        wake.set()
        async with asyncio.timeout(5):  # woken: no 30 s idle wait
            await delivered.wait()
        assert [m.body_text for m in sms.sent] == ["hi"]
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
