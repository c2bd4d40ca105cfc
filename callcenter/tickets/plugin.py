"""Wiring of the tickets room: the service, the routes, the live inbox and the background
work — the notification outbox and the SLA escalation sweep, both supervised.

The wrap-up save (on the agent page) reaches the room only through
``registry.TICKET_SAVED``: a callable this plugin sets, so the web room needs no import
of this one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from aiohttp import web

from callcenter import tasks
from callcenter.config import PrintingSettings
from callcenter.notify.email import SmtpSender
from callcenter.notify.outbox import Channel, Sender, run_outbox
from callcenter.notify.printing import CommandPrinter, LogPrinter, SpoolPrinter
from callcenter.notify.sms import HttpSmsGateway, LogSmsGateway
from callcenter.plugins import Plugin
from callcenter.registry import BUS, CLOCK, SESSIONMAKER, SETTINGS, TICKET_SAVED
from callcenter.tickets import http
from callcenter.tickets.bus_consume import LIVE_INBOX, LiveInbox
from callcenter.tickets.services import TICKET_SERVICE, TicketService

log = logging.getLogger(__name__)

#: The senders the outbox uses; a test may set them before start-up (else from settings).
SENDERS: web.AppKey[Mapping[str, Sender]] = web.AppKey("notify_senders")

ESCALATE_EVERY_SECONDS = 60.0


def default_senders(app: web.Application) -> dict[str, Sender]:
    settings = app[SETTINGS]
    sms: Sender = HttpSmsGateway(settings.sms) if settings.sms.gateway_url else LogSmsGateway()
    return {
        Channel.EMAIL: SmtpSender(settings.smtp, clock=app[CLOCK]),
        Channel.SMS: sms,
        Channel.PRINT: _printer(settings.printing),
    }


def _printer(settings: PrintingSettings) -> Sender:
    if settings.command:
        return CommandPrinter(list(settings.command))
    if settings.spool_dir:
        return SpoolPrinter(Path(settings.spool_dir))
    log.warning(
        "printing.command and printing.spool_dir are empty: departments' print jobs are only logged"
    )
    return LogPrinter()


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    domain = settings.smtp.sender.rpartition("@")[2] or "callcenter.local"
    service = TicketService(
        sessions=app[SESSIONMAKER],
        clock=app[CLOCK],
        bus=app[BUS],
        base_url=settings.http.public_url.rstrip("/"),
        domain=domain,
        zone=settings.tz,
        attachments_dir=settings.attachments_dir,
        max_attachment_bytes=min(10, int(settings.http.max_upload_mb)) * 1024 * 1024,
        language=settings.language,
    )
    app[TICKET_SERVICE] = service
    app[LIVE_INBOX] = LiveInbox()
    app[TICKET_SAVED] = service.ticket_saved
    app.router.add_routes(http.routes)
    app.cleanup_ctx.append(_work_ctx)
    app.on_shutdown.append(_close_streams)


async def _close_streams(app: web.Application) -> None:
    app[LIVE_INBOX].close_all()


async def _work_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[TICKET_SERVICE]
    unsubscribe = app[LIVE_INBOX].subscribe(app[BUS])
    senders = app.get(SENDERS) or default_senders(app)
    outbox_task = tasks.supervise(
        "notification-outbox",
        lambda: run_outbox(app[SESSIONMAKER], senders, app[CLOCK], wake=service.outbox_wake),
    )
    escalation_task = tasks.supervise(
        "ticket-escalation", lambda: service.run_escalations(ESCALATE_EVERY_SECONDS)
    )
    yield
    unsubscribe()
    await tasks.stop(escalation_task)
    await tasks.stop(outbox_task)


PLUGIN = Plugin("tickets", setup)

__all__ = ["LIVE_INBOX", "PLUGIN", "SENDERS", "TICKET_SERVICE"]
