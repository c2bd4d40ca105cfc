"""The tickets room under test: an app with the plugin, the office of ``world.py``, a
manual clock, recording senders, logins by signed cookie, and tickets made the way the
agent page's wrap-up save makes them."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from callcenter.auth.sessions import COOKIE_NAME, logged_in
from callcenter.clock import ManualClock
from callcenter.core.tickets import Priority, WrapUpForm, WrapUpOutcome, plan_wrap_up
from callcenter.db.models import Call, User
from callcenter.db.repos import tickets as ticket_repo
from callcenter.notify.outbox import OutgoingMessage
from callcenter.registry import CLOCK, SESSIONMAKER
from callcenter.tickets.plugin import SENDERS, TICKET_SERVICE
from callcenter.web.auth import AUTH
from tests.tickets.world import Office

_calls = itertools.count(1000)


@dataclass
class Recorder:
    """A sender that keeps what it was given (and can be told to fail)."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    fail: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def send(self, message: OutgoingMessage) -> None:
        if self.fail:
            raise ConnectionError("gateway down")
        async with self.changed:
            self.sent.append(message)
            self.changed.notify_all()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5), self.changed:
            await self.changed.wait_for(lambda: len(self.sent) >= count)


def install_senders(app: web.Application, **senders: Any) -> dict[str, Recorder]:
    chosen = {"email": Recorder(), "sms": Recorder(), "print": Recorder(), **senders}
    app[SENDERS] = chosen
    return chosen


async def as_user(client: TestClient, user_id: int) -> str:
    """Log ``user_id`` in by a signed session cookie; returns the CSRF token."""
    app = client.server.app
    async with app[SESSIONMAKER]() as db:
        user = await db.get(User, user_id)
        assert user is not None
        version = user.session_version
    session = logged_in(app[CLOCK].now(), user_id, version)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(
        {COOKIE_NAME: app[AUTH].codec.dumps(session)}, client.make_url("/")
    )
    return session.csrf


async def wrapup_ticket(
    app: web.Application,
    office: Office,
    *,
    notes: str = "Động cơ xe tải kêu to, khách phàn nàn",
    category_id: int | None = None,
    priority: Priority = Priority.HIGH,
) -> str:
    """What the agent page's wrap-up save does: plan, ``apply_plan``, commit, then the
    tickets room's ``ticket_saved`` hook. Returns the ticket's code."""
    clock: ManualClock = app[CLOCK]  # type: ignore[assignment]
    now = clock.now()
    category = category_id or office.warranty
    async with app[SESSIONMAKER]() as session:
        call = Call(
            linkedid=f"wu.{next(_calls)}",
            started_at=now,
            caller_number="+84912345678",
            customer_id=office.customer,
            agent_id=office.agent,
            disposition="answered",
            recording_path="/var/spool/asterisk/monitor/x.wav",
        )
        session.add(call)
        await session.flush()
        plan = plan_wrap_up(
            WrapUpForm(
                outcome=WrapUpOutcome.NEW_TICKET,
                category_id=category,
                priority=priority,
                notes=notes,
            ),
            category=await ticket_repo.category_info(session, category),
            open_ticket=None,
            customer_id=office.customer,
            now=now,
        )
        ticket = await ticket_repo.apply_plan(
            session,
            plan,
            call_id=call.id,
            customer_id=office.customer,
            user_id=office.agent,
            now=now,
        )
        await session.commit()
        ticket_id, code = ticket.id, ticket.code
    await app[TICKET_SERVICE].ticket_saved(ticket_id)
    return code
