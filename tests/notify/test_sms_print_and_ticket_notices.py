"""SMS through a generic HTTP gateway (a local aiohttp server plays it), print jobs, and
the ticket notices: a new ticket on every channel of its department, SLA escalation to
the head and supervisors once per threshold."""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from callcenter.clock import ManualClock
from callcenter.config import SmsSettings
from callcenter.core.tickets import TicketStatus
from callcenter.db.models import Department, Notification, TicketEvent
from callcenter.db.repos import ticket_work as work
from callcenter.notify import outbox
from callcenter.notify import tickets as notices
from callcenter.notify.printing import CommandPrinter, LogPrinter, SpoolPrinter
from callcenter.notify.sms import HttpSmsGateway, LogSmsGateway
from tests.tickets.test_ticket_repo import new_ticket
from tests.tickets.world import T0, Office, at, build_office


async def test_http_gateway_get_template_retries_5xx_and_refuses_4xx(
    session_factory: async_sessionmaker[Any],
) -> None:
    answers = {"+84912345678": [503, 200], "+84900000000": [400]}
    seen: list[dict[str, str]] = []

    async def send(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.Response(status=answers[request.query["Phone"]].pop(0), text="ok")

    app = web.Application()
    app.router.add_get("/send", send)
    async with TestServer(app) as server:
        template = (
            str(server.make_url("/send"))
            + "?ApiKey={api_key}&Phone={to}&Content={text}&Brand={sender}"
        )
        gateway = HttpSmsGateway(
            SmsSettings(gateway_url=template, api_key=SecretStr("k&1"), sender="HOTLINE")
        )
        clock = ManualClock(T0)
        async with session_factory() as session:
            first = await outbox.enqueue(
                session,
                channel="sms",
                recipient="+84912345678",
                body_text="Phiếu TK-2026-000001 & xe kêu",
                now=T0,
            )
            second = await outbox.enqueue(
                session, channel="sms", recipient="+84900000000", body_text="x", now=T0
            )
            await session.commit()
        assert await outbox.deliver_due(session_factory, {"sms": gateway}, clock) == 0  # 503, 400
        await clock.advance(30)
        assert await outbox.deliver_due(session_factory, {"sms": gateway}, clock) == 1  # 200
    assert seen[0] == {
        "ApiKey": "k&1",
        "Phone": "+84912345678",
        "Content": "Phiếu TK-2026-000001 & xe kêu",
        "Brand": "HOTLINE",
    }
    async with session_factory() as session:
        states = {
            r.id: (r.state, r.attempts) for r in (await session.scalars(select(Notification))).all()
        }
    assert states == {first.id: ("sent", 2), second.id: ("failed", 1)}


async def test_http_gateway_post_json_when_the_template_has_no_text() -> None:
    got: list[tuple[dict[str, Any], str]] = []

    async def send(request: web.Request) -> web.Response:
        got.append((await request.json(), request.headers["X-API-Key"]))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/sms", send)
    async with TestServer(app) as server:
        gateway = HttpSmsGateway(
            SmsSettings(
                gateway_url=str(server.make_url("/sms")), api_key=SecretStr("key"), sender="CC"
            )
        )
        message = outbox.OutgoingMessage(1, "sms", "+84912345678", "", "xin chào", "", "<m@x>", 1)
        await gateway.send(message)
    assert got == [({"to": "+84912345678", "text": "xin chào", "sender": "CC"}, "key")]


async def test_announce_a_new_ticket_on_every_configured_channel(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    async with session_factory() as session:
        office: Office = await build_office(session)
        service = await session.get(Department, office.service)
        assert service is not None
        service.notify_channels = "inbox,email,sms,print"
        service.sms_number = "+84987654321"
        await session.commit()
    ticket = await new_ticket(session_factory, office)  # auto-assigned to the head
    async with session_factory() as session:
        ids = await notices.announce_ticket(
            session, ticket, base_url="https://cc.example.vn/", now=at(1)
        )
        await session.commit()
        rows = (
            await session.scalars(
                select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
            )
        ).all()
        assert [(r.channel, r.recipient) for r in rows] == [
            ("email", "dichvu@example.vn"),
            ("email", "an@example.vn"),
            ("sms", "+84987654321"),
            ("print", "tk_service"),
        ]
        link = f"https://cc.example.vn/tickets/{ticket.code}"
        email_row = rows[0]
        assert email_row.subject == f"Phiếu mới {ticket.code}: Xe kêu to"
        assert link in email_row.body_text and f'href="{link}"' in email_row.body_html
        assert "Nguyễn Văn An" in email_row.body_text and "Chưa thực hiện" in email_row.body_text
        assert rows[2].body_text.endswith(link)
        assert "Phiếu công việc" in rows[3].body_html and ticket.code in rows[3].body_html
        assert len({r.message_id for r in rows}) == 4
        kinds = (
            await session.scalars(
                select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
            )
        ).all()
        assert kinds[-1] == "notified"

    sms, printer, spool = LogSmsGateway(), LogPrinter(), SpoolPrinter(tmp_path / "spool")

    class Mail:
        def __init__(self) -> None:
            self.got: list[str] = []

        async def send(self, message: outbox.OutgoingMessage) -> None:
            self.got.append(message.recipient)

    mail = Mail()
    clock = ManualClock(at(1))
    assert (
        await outbox.deliver_due(
            session_factory, {"email": mail, "sms": sms, "print": printer}, clock
        )
        == 4
    )
    assert (
        mail.got == ["dichvu@example.vn", "an@example.vn"]
        and len(sms.sent) == len(printer.jobs) == 1
    )
    await spool.send(printer.jobs[0])
    pdf = spool.path_for(printer.jobs[0])
    assert pdf.with_suffix(".html").read_text(encoding="utf-8") == printer.jobs[0].body_html
    assert ticket.code in pdf_text(pdf.read_bytes())


def pdf_text(document: bytes) -> str:
    """The text a PDF reader extracts (what a person would read on the printed sheet)."""
    assert document.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


async def test_a_department_printer_gets_the_sheet_as_pdf_and_a_failing_one_is_retried(
    session_factory: async_sessionmaker[Any], tmp_path: Path
) -> None:
    """The print channel pipes the job sheet's PDF to the configured command (CUPS's
    ``lp -d {department}`` in production; here a command that keeps what it is given, per
    department). A printer that refuses leaves the job queued for a retry, not lost."""
    async with session_factory() as session:
        office: Office = await build_office(session)
        service = await session.get(Department, office.service)
        assert service is not None
        service.notify_channels = "inbox,print"
        await session.commit()
    ticket = await new_ticket(session_factory, office)
    async with session_factory() as session:
        await notices.announce_ticket(session, ticket, base_url="https://cc.example.vn", now=at(1))
        await session.commit()
    keep = "import sys; open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())"
    out = tmp_path / "printed"
    out.mkdir()
    broken = CommandPrinter(
        [sys.executable, "-c", "import sys; print('out of paper'); sys.exit(3)"]
    )
    clock = ManualClock(at(1))
    assert await outbox.deliver_due(session_factory, {"print": broken}, clock) == 0
    async with session_factory() as session:
        job = await session.scalar(select(Notification).where(Notification.channel == "print"))
        assert job is not None and job.state != "sent" and job.attempts == 1
        assert "out of paper" in job.last_error
    printer = CommandPrinter([sys.executable, "-c", keep, str(out / "{department}.pdf")])
    clock.set(at(2))  # past the back-off
    assert await outbox.deliver_due(session_factory, {"print": printer}, clock) == 1
    text = pdf_text((out / "tk_service.pdf").read_bytes())
    assert ticket.code in text and "Phiếu công việc" in text  # Vietnamese survives the PDF


async def test_escalation_once_per_threshold_to_head_and_supervisors(
    session_factory: async_sessionmaker[Any],
) -> None:
    async with session_factory() as session:
        office: Office = await build_office(session)
        await session.commit()
    ticket = await new_ticket(session_factory, office)  # due T0 + 24 h

    async def sweep(now: Any) -> int:
        async with session_factory() as session:
            count = await notices.escalate_overdue(
                session, now=now, base_url="https://cc.example.vn"
            )
            await session.commit()
            return count

    async def recipients() -> list[str]:
        async with session_factory() as session:
            rows = await session.scalars(
                select(Notification.recipient)
                .where(Notification.kind == "escalation")
                .order_by(Notification.id)
            )
            return list(rows.all())

    due = T0 + timedelta(hours=24)
    assert await sweep(due - timedelta(minutes=1)) == 0
    assert await sweep(due) == 1
    assert await recipients() == ["an@example.vn", "sup@example.vn"]
    assert await sweep(due + timedelta(hours=1)) == 0  # "due" already sent
    assert await sweep(due + timedelta(hours=4)) == 1  # the +4 h threshold, once
    assert await sweep(due + timedelta(hours=5)) == 0
    assert len(await recipients()) == 4
    async with session_factory() as session:
        await work.transition(
            session,
            ticket.id,
            TicketStatus.IN_PROGRESS,
            user_id=office.head,
            now=due + timedelta(hours=6),
        )
        await work.transition(
            session, ticket.id, TicketStatus.DONE, user_id=office.head, now=due + timedelta(hours=7)
        )
        await session.commit()
    assert await sweep(due + timedelta(hours=30)) == 0  # done: no more escalation
    async with session_factory() as session:
        notes = (
            await session.scalars(
                select(TicketEvent.note).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "notified"
                )
            )
        ).all()
        assert [n.split(":")[0] for n in notes] == ["due", "due+4h"]
