"""The SMS gateway is down (nothing listens), then back: the message waits in the outbox
and is delivered exactly once. (SMTP down then back: tests/notify/test_email_outbox.py,
``test_server_down_then_back_delivers_once``, against a local aiosmtpd.)"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.config import SmsSettings
from callcenter.db.models import Notification
from callcenter.notify import outbox
from callcenter.notify.sms import HttpSmsGateway
from tests.ports import free_port as _free_port
from tests.tickets.world import T0


async def test_sms_gateway_down_then_back_delivers_once(
    session_factory: async_sessionmaker[Any],
) -> None:
    port = _free_port()
    received: list[str] = []

    async def send(request: web.Request) -> web.Response:
        received.append(request.query["Content"])
        return web.Response(text="ok")

    gateway = HttpSmsGateway(
        SmsSettings(
            gateway_url=f"http://127.0.0.1:{port}/send?Phone={{to}}&Content={{text}}",
            api_key=SecretStr("k"),
            sender="HOTLINE",
        )
    )
    clock = ManualClock(T0)
    async with session_factory() as session:
        row = await outbox.enqueue(
            session, channel="sms", recipient="+84912345678", body_text="Phiếu đã xong", now=T0
        )
        await session.commit()
    for _ in range(3):  # down: connection refused, the row waits with its attempts counted
        assert await outbox.deliver_due(session_factory, {"sms": gateway}, clock) == 0
        await clock.advance(3600)
    async with session_factory() as session:
        waiting = await session.get(Notification, row.id)
        assert waiting is not None and waiting.state == "queued", waiting.state

    app = web.Application()
    app.router.add_get("/send", send)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await clock.advance(3600)
        assert await outbox.deliver_due(session_factory, {"sms": gateway}, clock) == 1
        for _ in range(3):
            await clock.advance(3600)
            assert await outbox.deliver_due(session_factory, {"sms": gateway}, clock) == 0
    finally:
        await runner.cleanup()
    assert received == ["Phiếu đã xong"]
    async with session_factory() as session:
        states = [(n.state, n.attempts) for n in (await session.scalars(select(Notification)))]
    assert states == [("sent", 4)]
