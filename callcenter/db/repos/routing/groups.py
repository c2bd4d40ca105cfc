"""Agent groups (ring groups): create/update, members and their priorities, listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import AgentGroup, AgentGroupMember, Hotline, User
from callcenter.db.repos.routing.common import (
    N_,
    OVERFLOW_ACTIONS,
    STRATEGIES,
    InvalidConfig,
    _all,
    _bounded,
    _choice,
    _coded_row,
    _delete,
    _get,
    _name,
)


@dataclass
class GroupInput:
    code: str
    name: str
    strategy: str = "fewest_calls"
    ring_timeout_seconds: int = 15
    max_wait_seconds: int = 300
    overflow_action: str = "callback"
    active: bool = True


async def save_group(
    session: AsyncSession, data: GroupInput, group_id: int | None = None
) -> AgentGroup:
    """Create (``group_id`` None) or update an agent group."""
    code, group = await _coded_row(
        session, AgentGroup, data.code, group_id, N_("A group with code {value} already exists.")
    )
    group.code = code
    group.name = _name(data.name)
    group.strategy = _choice(data.strategy, STRATEGIES, "strategy")
    group.ring_timeout_seconds = _bounded(data.ring_timeout_seconds, 5, 120, "ring_timeout_seconds")
    group.max_wait_seconds = _bounded(data.max_wait_seconds, 30, 3600, "max_wait_seconds")
    group.overflow_action = _choice(data.overflow_action, OVERFLOW_ACTIONS, "overflow_action")
    group.active = data.active
    session.add(group)
    await session.flush()
    return group


async def set_group_members(
    session: AsyncSession, group_id: int, members: Sequence[tuple[int, int]]
) -> None:
    """Replace a group's members with ``(user_id, priority)`` pairs (lower priority first)."""
    await _get(session, AgentGroup, group_id)
    seen: set[int] = set()
    for user_id, priority in members:
        if user_id in seen:
            raise InvalidConfig(N_("An agent is listed twice in the group."), field="members")
        seen.add(user_id)
        _bounded(priority, 0, 999, "members")
        if await session.get(User, user_id) is None:
            raise InvalidConfig(N_("One of the chosen agents no longer exists."), field="members")
    await session.execute(delete(AgentGroupMember).where(AgentGroupMember.group_id == group_id))
    for user_id, priority in members:
        session.add(AgentGroupMember(group_id=group_id, user_id=user_id, priority=priority))
    await session.flush()


async def set_user_groups(session: AsyncSession, user_id: int, group_ids: Iterable[int]) -> None:
    """Put one user in exactly these groups; a new membership goes last in its group's order."""
    wanted = set(group_ids)
    known = {g.id for g in await list_groups(session)}
    if not wanted <= known:
        raise InvalidConfig(N_("One of the chosen groups no longer exists."), field="groups")
    rows = (
        await session.scalars(select(AgentGroupMember).where(AgentGroupMember.user_id == user_id))
    ).all()
    for row in rows:
        if row.group_id not in wanted:
            await session.delete(row)
    for group_id in wanted - {row.group_id for row in rows}:
        last = await session.scalar(
            select(func.max(AgentGroupMember.priority)).where(AgentGroupMember.group_id == group_id)
        )
        session.add(
            AgentGroupMember(
                group_id=group_id, user_id=user_id, priority=0 if last is None else last + 1
            )
        )
    await session.flush()


async def delete_group(session: AsyncSession, group_id: int) -> AgentGroup:
    group = await _get(session, AgentGroup, group_id)
    used = (await session.scalars(select(Hotline))).all()
    for hotline in used:
        if hotline.group_id == group_id or group.code in (hotline.menu or {}).values():
            raise InvalidConfig(
                N_("Hotline {value} still sends calls to this group; change it first."),
                value=hotline.number,
            )
    return await _delete(session, AgentGroup, group_id)


async def list_groups(session: AsyncSession) -> list[AgentGroup]:
    return await _all(session, AgentGroup, AgentGroup.code)


async def group_members(session: AsyncSession, group_id: int) -> dict[int, int]:
    """user id → priority of a group's members."""
    rows = await session.scalars(
        select(AgentGroupMember).where(AgentGroupMember.group_id == group_id)
    )
    return {row.user_id: row.priority for row in rows}


async def groups_of_users(session: AsyncSession) -> dict[int, list[str]]:
    """user id → codes of the groups they belong to (for the users list)."""
    rows = await session.execute(
        select(AgentGroupMember.user_id, AgentGroup.code)
        .join(AgentGroup, AgentGroup.id == AgentGroupMember.group_id)
        .order_by(AgentGroup.code)
    )
    result: dict[int, list[str]] = {}
    for user_id, code in rows:
        result.setdefault(user_id, []).append(code)
    return result
