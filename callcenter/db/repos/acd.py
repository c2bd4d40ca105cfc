"""What the ACD stores and reads: the agent state log, and who a caller is (priority, sticky agent).

The state log keeps one row per state an agent was in, with start and end:
reports and pay are computed from it, so a change closes the open row and
opens the next one in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.phones import Phone, normalize_phone
from callcenter.core.screenpop import CallerHistory
from callcenter.db.models import AgentStateLog, Customer, CustomerPhone, Ticket, User

#: Ticket statuses that are finished; anything else counts as "open" for routing priority.
CLOSED_TICKET_STATUSES = ("closed", "resolved", "cancelled", "done")
VIP_TAGS = frozenset({"vip", "VIP"})


async def record_state(
    session: AsyncSession,
    user_id: int,
    state: str,
    *,
    reason: str = "",
    interface: str = "",
    at: datetime,
) -> AgentStateLog:
    """Close the agent's open row at ``at`` and open a new one (flush only; caller commits)."""
    await session.execute(
        update(AgentStateLog)
        .where(AgentStateLog.user_id == user_id, AgentStateLog.ended_at.is_(None))
        .values(ended_at=at)
    )
    row = AgentStateLog(
        user_id=user_id, state=state, reason=reason, interface=interface, started_at=at
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class StateRow:
    user_id: int
    state: str
    reason: str
    interface: str
    at: datetime


async def record_states(session: AsyncSession, rows: Sequence[StateRow]) -> None:
    """Several state changes in order, in two statements whatever their number.

    The SQLite write lock is held from the first write to the commit, so round trips
    inside it cost every other writer: each row's end is worked out here (the same
    agent's next change in the batch closes it), then one executemany UPDATE closes
    the rows that were open before the batch and one bulk INSERT adds the new rows.
    """
    if not rows:
        return
    opened_at: dict[int, datetime] = {}  # agent -> their first change in this batch
    for row in rows:
        opened_at.setdefault(row.user_id, row.at)
    next_start: dict[int, datetime] = {}
    new_rows: list[dict[str, object]] = []
    for row in reversed(rows):
        new_rows.append(
            {
                "user_id": row.user_id,
                "state": row.state,
                "reason": row.reason,
                "interface": row.interface,
                "started_at": row.at,
                "ended_at": next_start.get(row.user_id),
            }
        )
        next_start[row.user_id] = row.at
    new_rows.reverse()  # ids keep the order the changes happened in
    table = cast(Table, AgentStateLog.__table__)
    connection = await session.connection()
    await connection.execute(
        update(table)
        .where(table.c.user_id == bindparam("agent"), table.c.ended_at.is_(None))
        .values(ended_at=bindparam("closed_at")),
        [{"agent": agent, "closed_at": at} for agent, at in opened_at.items()],
    )
    await connection.execute(insert(table), new_rows)


async def open_states(session: AsyncSession) -> Sequence[AgentStateLog]:
    """Each agent's current (open) row: what to restore after a restart."""
    rows = await session.scalars(
        select(AgentStateLog).where(AgentStateLog.ended_at.is_(None)).order_by(AgentStateLog.id)
    )
    return rows.all()


async def state_history(
    session: AsyncSession, user_id: int, since: datetime | None = None
) -> Sequence[AgentStateLog]:
    query = select(AgentStateLog).where(AgentStateLog.user_id == user_id)
    if since is not None:
        query = query.where(AgentStateLog.started_at >= since)
    return (await session.scalars(query.order_by(AgentStateLog.id))).all()


async def agents(session: AsyncSession) -> Sequence[User]:
    """Active users who may take calls (agents and supervisors)."""
    rows = await session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(("agent", "supervisor")))
    )
    return rows.all()


@dataclass(frozen=True)
class CallerProfile:
    """What routing needs to know about a caller: who, how urgent, and their ticket's agent."""

    customer_id: int | None = None
    vip: bool = False
    open_ticket_id: int | None = None
    ticket_agent_id: int | None = None

    @property
    def priority(self) -> int:
        return 1 if self.vip or self.open_ticket_id is not None else 0


def profile_of(history: CallerHistory) -> CallerProfile:
    """The routing profile read off a caller's screen-pop history (no query of its own).

    The same rule as :func:`caller_profile`: VIP by tag; the open ticket is the one
    changed last among those not finished (a ticket the department marked done waits
    only for the care team's call and routes like any other caller)."""
    customer = history.customer
    if customer is None:
        return CallerProfile()
    vip = any(tag.strip().lower() == "vip" for tag in customer.tags)
    open_tickets = [t for t in history.open_tickets if t.status not in CLOSED_TICKET_STATUSES]
    if not open_tickets:
        return CallerProfile(customer_id=customer.id, vip=vip)
    oldest = datetime.min.replace(tzinfo=UTC)
    newest = max(open_tickets, key=lambda t: (_aware(t.updated_at) or oldest, t.id))
    return CallerProfile(
        customer_id=customer.id,
        vip=vip,
        open_ticket_id=newest.id,
        ticket_agent_id=newest.agent_id,
    )


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC datetimes; compare them with aware ones as UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


async def caller_profile(session: AsyncSession, number: str) -> CallerProfile:
    """One indexed lookup by E.164 number, then the newest open ticket (if any)."""
    phone = normalize_phone(number)
    if not isinstance(phone, Phone):
        return CallerProfile()
    row = (
        await session.execute(
            select(Customer.id, Customer.tags)
            .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
            .where(CustomerPhone.number == phone.e164)
            .order_by(CustomerPhone.is_primary.desc(), Customer.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return CallerProfile()
    customer_id, tags = row
    vip = any(str(tag).strip().lower() == "vip" for tag in (tags or []))
    ticket = (
        await session.execute(
            select(Ticket.id, Ticket.assignee_id, Ticket.created_by_id)
            .where(Ticket.customer_id == customer_id, Ticket.status.not_in(CLOSED_TICKET_STATUSES))
            .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
            .limit(1)
        )
    ).first()
    if ticket is None:
        return CallerProfile(customer_id=customer_id, vip=vip)
    ticket_id, assignee_id, created_by_id = ticket
    return CallerProfile(
        customer_id=customer_id,
        vip=vip,
        open_ticket_id=ticket_id,
        ticket_agent_id=assignee_id or created_by_id,
    )
