"""Data-level access: which calls, customers and tickets a user may read, as query filters.

Route access (``web/access.py``) says who may open a page; these filters say
which ROWS that page may show. Apply them to every query that lists or loads
these rows on behalf of a user::

    select(Call).where(call_filter(user))

* admin, supervisor: everything;
* agent: the calls they answered or were offered, the customers of those calls
  (and the ones they created), the tickets they created, were assigned or that
  came from their calls;
* department staff (heads included): the tickets of their own department, and
  the calls and customers of those tickets; nothing if they have no department.

Tasks (callbacks, follow-ups, outbound calls) are worked, not read, so
:func:`task_filter` says which ones a user may act on: the ones they hold, an agent's
groups' unclaimed ones, a department's tickets' follow-ups.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.roles import Role
from callcenter.db.models.calls import Call, CallAttempt
from callcenter.db.models.customers import Customer
from callcenter.db.models.routing import AgentGroup, AgentGroupMember
from callcenter.db.models.tasks import Task
from callcenter.db.models.tickets import Ticket


class Reader(Protocol):
    """What the filters need to know about the user (``CurrentUser`` or a ``User`` row)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Any: ...

    @property
    def department_id(self) -> int | None: ...


def _role(user: Reader) -> Role | None:
    try:
        return Role(str(user.role))
    except ValueError:
        return None


def _sees_everything(user: Reader) -> bool:
    return _role(user) in (Role.ADMIN, Role.SUPERVISOR)


def _agent_calls(user_id: int) -> ColumnElement[bool]:
    offered = exists().where(CallAttempt.call_id == Call.id, CallAttempt.agent_id == user_id)
    return or_(Call.agent_id == user_id, offered)


def ticket_filter(user: Reader) -> ColumnElement[bool]:
    role = _role(user)
    if _sees_everything(user):
        return true()
    if role is Role.DEPARTMENT:
        if user.department_id is None:
            return false()
        return Ticket.department_id == user.department_id
    if role is Role.AGENT:
        own_calls = select(Call.id).where(_agent_calls(user.id))
        return or_(
            Ticket.created_by_id == user.id,
            Ticket.assignee_id == user.id,
            Ticket.call_id.in_(own_calls),
        )
    return false()


def call_filter(user: Reader) -> ColumnElement[bool]:
    role = _role(user)
    if _sees_everything(user):
        return true()
    if role is Role.AGENT:
        return _agent_calls(user.id)
    if role is Role.DEPARTMENT:
        department_calls = select(Ticket.call_id).where(
            ticket_filter(user), Ticket.call_id.is_not(None)
        )
        return Call.id.in_(department_calls)
    return false()


def customer_filter(user: Reader) -> ColumnElement[bool]:
    role = _role(user)
    if _sees_everything(user):
        return true()
    if role is Role.AGENT:
        served = select(Call.customer_id).where(
            _agent_calls(user.id), Call.customer_id.is_not(None)
        )
        ticketed = select(Ticket.customer_id).where(
            ticket_filter(user), Ticket.customer_id.is_not(None)
        )
        return or_(
            Customer.id.in_(served),
            Customer.id.in_(ticketed),
            Customer.created_by_id == user.id,
        )
    if role is Role.DEPARTMENT:
        ticketed = select(Ticket.customer_id).where(
            ticket_filter(user), Ticket.customer_id.is_not(None)
        )
        return Customer.id.in_(ticketed)
    return false()


def task_filter(user: Reader) -> ColumnElement[bool]:
    """The tasks ``user`` may act on (answer a survey in, record an outcome for).

    Held by the user always; an agent also the unclaimed tasks of the groups they answer
    for (and group-less ones), as their task list shows them; department staff also the
    tasks made from their department's tickets (the care follow-ups)."""
    role = _role(user)
    if _sees_everything(user):
        return true()
    held = Task.assignee_id == user.id
    if role is Role.AGENT:
        groups = (
            select(AgentGroup.code)
            .join(AgentGroupMember, AgentGroupMember.group_id == AgentGroup.id)
            .where(AgentGroupMember.user_id == user.id)
        )
        unclaimed = Task.assignee_id.is_(None) & or_(Task.group.in_(groups), Task.group == "")
        return or_(held, unclaimed)
    if role is Role.DEPARTMENT:
        tickets = select(Ticket.id).where(ticket_filter(user))
        return or_(held, Task.origin_ticket_id.in_(tickets))
    return false()


_FILTERS = {Call: call_filter, Customer: customer_filter, Ticket: ticket_filter, Task: task_filter}


async def can_read(session: AsyncSession, user: Reader, model: type[Any], row_id: int) -> bool:
    """Whether ``user`` may read the ``model`` row ``row_id`` (False also if it does not exist)."""
    make_filter = _FILTERS[model]
    query = select(model.id).where(model.id == row_id, make_filter(user))
    return (await session.execute(query)).first() is not None
