"""What the back office announces, and how it reads: new tickets to their department's
channels, SLA escalations to the head and the supervisors, the printable job sheet.

Each function writes outbox rows (and the ticket's ``notified`` event) in the caller's
transaction; ``outbox.run_outbox`` delivers them. Texts are rendered in the recipient
department's language (Vietnamese by default) from ``agent_ui/templates``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.tickets import (
    DEFAULT_ESCALATIONS,
    PRIORITY_LABELS,
    STATUS_LABELS,
    EventKind,
    Priority,
    Threshold,
    TicketStatus,
    escalation_decision,
)
from callcenter.db.models import Category, Customer, CustomerPhone, Department, Ticket, User
from callcenter.db.repos import ticket_queries, ticket_work
from callcenter.i18n import N_, translate, translations
from callcenter.localtime import DEFAULT_ZONE, format_datetime
from callcenter.notify.outbox import Channel, enqueue

TEMPLATES = Path(__file__).resolve().parents[2] / "agent_ui" / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)

NEW_TICKET = "new_ticket"
ESCALATION = "escalation"
KIND_LABELS = {
    NEW_TICKET: N_("New ticket {code}: {title}"),
    ESCALATION: N_("Overdue ticket {code}: {title}"),
}
HEADLINES = {
    NEW_TICKET: N_("A new ticket has reached your department."),
    ESCALATION: N_("This ticket is past its due time and is not finished."),
}


@dataclass(frozen=True, slots=True)
class TicketSheet:
    """A ticket as the email, the SMS and the printed job sheet show it."""

    code: str
    title: str
    status_label: str  # msgid
    priority_label: str  # msgid
    department: str
    category: str
    assignee: str
    customer: str
    phones: tuple[str, ...]
    created: str
    due: str
    description: str
    department_id: int | None = None
    recipients: dict[str, list[str]] = field(default_factory=dict)


async def ticket_sheet(
    session: AsyncSession, ticket: Ticket, zone: ZoneInfo = DEFAULT_ZONE
) -> TicketSheet:
    department = (
        await session.get(Department, ticket.department_id) if ticket.department_id else None
    )
    category = await session.get(Category, ticket.category_id) if ticket.category_id else None
    assignee = await session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    phones: tuple[str, ...] = ()
    if customer is not None:
        phones = tuple(
            (
                await session.scalars(
                    select(CustomerPhone.number)
                    .where(CustomerPhone.customer_id == customer.id)
                    .order_by(CustomerPhone.is_primary.desc(), CustomerPhone.id)
                )
            ).all()
        )
    return TicketSheet(
        code=ticket.code,
        title=ticket.subject,
        status_label=STATUS_LABELS[TicketStatus(ticket.status)],
        priority_label=PRIORITY_LABELS[Priority(ticket.priority)],
        department=department.name if department else "",
        category=category.name if category else "",
        assignee=(assignee.full_name or assignee.username) if assignee else "",
        customer=customer.name if customer else "",
        phones=phones,
        created=format_datetime(ticket.created_at, zone),
        due=format_datetime(ticket.due_at, zone) if ticket.due_at else "",
        description=ticket.description,
        department_id=ticket.department_id,
    )


def ticket_link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/tickets/{code}"


def render_print_sheet(sheet: TicketSheet, language: str = "vi") -> str:
    """The print-ready HTML job sheet (A4); the page route serves it as is."""
    return _ENV.get_template("tickets/print_sheet.html").render(
        sheet=sheet, lang=language, _=translations(language).gettext
    )


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_message(sheet: TicketSheet, kind: str, link: str, language: str = "vi") -> Rendered:
    """Subject, plain text (also the SMS) and HTML of a ticket notification."""
    gettext = translations(language).gettext
    subject = translate(language, KIND_LABELS[kind], code=sheet.code, title=sheet.title)[:300]
    headline = gettext(HEADLINES[kind])
    lines = [
        headline,
        "",
        f"{gettext('Ticket')}: {sheet.code} - {sheet.title}",
        f"{gettext('Status')}: {gettext(sheet.status_label)}",
        f"{gettext('Priority')}: {gettext(sheet.priority_label)}",
        f"{gettext('Department')}: {sheet.department}",
    ]
    if sheet.assignee:
        lines.append(f"{gettext('Assignee')}: {sheet.assignee}")
    if sheet.customer:
        phones = f" ({', '.join(sheet.phones)})" if sheet.phones else ""
        lines.append(f"{gettext('Customer')}: {sheet.customer}{phones}")
    if sheet.due:
        lines.append(f"{gettext('Due')}: {sheet.due}")
    if sheet.description:
        lines += ["", sheet.description]
    lines += ["", link]
    html = _ENV.get_template("notify/ticket_email.html").render(
        sheet=sheet, subject=subject, headline=headline, link=link, lang=language, _=gettext
    )
    return Rendered(subject, "\n".join(lines), html)


def _sms_text(sheet: TicketSheet, kind: str, link: str, language: str) -> str:
    subject = translate(language, KIND_LABELS[kind], code=sheet.code, title=sheet.title)
    return f"{subject} {link}"


def department_channels(department: Department) -> set[str]:
    return {c.strip() for c in department.notify_channels.split(",") if c.strip()}


async def announce_ticket(
    session: AsyncSession,
    ticket: Ticket,
    *,
    base_url: str,
    now: datetime,
    kind: str = NEW_TICKET,
    language: str = "vi",
    domain: str = "callcenter.local",
    zone: ZoneInfo = DEFAULT_ZONE,
) -> list[int]:
    """Queue the ticket's notice on every channel its department is configured for:
    email to the department's address and to the assignee, SMS to its number, a print
    job. (The live inbox is the bus event the web room publishes.) Returns row ids."""
    if ticket.department_id is None:
        return []
    department = await session.get(Department, ticket.department_id)
    if department is None:
        return []
    channels = department_channels(department)
    sheet = await ticket_sheet(session, ticket, zone)
    link = ticket_link(base_url, ticket.code)
    message = render_message(sheet, kind, link, language)
    queued: list[tuple[str, str, str, str, str]] = []
    if Channel.EMAIL in channels:
        addresses = [department.email]
        if ticket.assignee_id is not None:
            assignee = await session.get(User, ticket.assignee_id)
            addresses.append(assignee.email if assignee else "")
        for address in dict.fromkeys(a.strip() for a in addresses if a and a.strip()):
            queued.append((Channel.EMAIL, address, message.subject, message.text, message.html))
    if Channel.SMS in channels and department.sms_number.strip():
        text = _sms_text(sheet, kind, link, language)
        queued.append((Channel.SMS, department.sms_number, message.subject, text, ""))
    if Channel.PRINT in channels:
        queued.append(
            (
                Channel.PRINT,
                department.code,
                message.subject,
                "",
                render_print_sheet(sheet, language),
            )
        )
    ids = []
    for channel, recipient, subject, text, html in queued:
        row = await enqueue(
            session,
            channel=channel,
            recipient=recipient,
            subject=subject,
            body_text=text,
            body_html=html,
            kind=kind,
            ticket_id=ticket.id,
            now=now,
            domain=domain,
        )
        ids.append(row.id)
    if ids:
        note = ", ".join(f"{c}:{r}" for c, r, *_ in queued)
        ticket_work.add_event(session, ticket, EventKind.NOTIFIED, user_id=None, at=now, note=note)
        await session.flush()
    return ids


async def escalation_recipients(session: AsyncSession, department_id: int | None) -> list[str]:
    """Email addresses of the department's head(s) and of every active supervisor."""
    heads = select(User.email).where(
        User.department_id == department_id,
        User.is_department_head.is_(True),
        User.active.is_(True),
    )
    supervisors = select(User.email).where(User.role == "supervisor", User.active.is_(True))
    found = list((await session.scalars(heads)).all()) if department_id else []
    found += list((await session.scalars(supervisors)).all())
    return list(dict.fromkeys(e.strip() for e in found if e and e.strip()))


async def escalate_overdue(
    session: AsyncSession,
    *,
    now: datetime,
    base_url: str,
    thresholds: Sequence[Threshold] = DEFAULT_ESCALATIONS,
    language: str = "vi",
    domain: str = "callcenter.local",
    zone: ZoneInfo = DEFAULT_ZONE,
) -> int:
    """One SLA sweep: for every open overdue ticket, the thresholds passed and not yet
    handled are recorded and ONE email goes to the head(s) and supervisors. The unique
    (ticket, threshold) key makes a concurrent second sweep fail instead of re-sending;
    run it in its own transaction. Returns the number of tickets escalated."""
    escalated = 0
    for ticket in await ticket_queries.overdue_open(session, now):
        sent = await ticket_work.escalations_sent(session, ticket.id)
        decision = escalation_decision(
            TicketStatus(ticket.status), ticket.due_at, now, sent, thresholds
        )
        if decision.notify is None:
            continue
        recipients = await escalation_recipients(session, ticket.department_id)
        sheet = await ticket_sheet(session, ticket, zone)
        message = render_message(sheet, ESCALATION, ticket_link(base_url, ticket.code), language)
        for address in recipients:
            await enqueue(
                session,
                channel=Channel.EMAIL,
                recipient=address,
                subject=message.subject,
                body_text=message.text,
                body_html=message.html,
                kind=ESCALATION,
                ticket_id=ticket.id,
                now=now,
                domain=domain,
            )
        await ticket_work.record_escalations(
            session,
            ticket,
            decision.record,
            now=now,
            note=f"{decision.notify.key}: {', '.join(recipients)}",
        )
        escalated += 1
    return escalated
