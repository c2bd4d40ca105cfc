"""Hotlines: the numbers callers dial, their group, menu (IVR keys) and closed action."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import AgentGroup, Hotline
from callcenter.db.repos.routing.common import (
    HOTLINE_RE,
    MENU_KEYS,
    N_,
    OVERFLOW_ACTIONS,
    InvalidConfig,
    _all,
    _bounded,
    _choice,
    _delete,
    _get,
    _unique,
)
from callcenter.db.repos.routing.groups import list_groups


@dataclass
class HotlineInput:
    number: str
    name: str
    group_id: int | None
    menu_enabled: bool = False
    menu: Mapping[str, str] = field(default_factory=dict)
    menu_timeout_seconds: int = 5
    closed_action: str = "callback"
    active: bool = True


async def save_hotline(
    session: AsyncSession, data: HotlineInput, hotline_id: int | None = None
) -> Hotline:
    number = re.sub(r"[\s.-]", "", data.number)
    if not HOTLINE_RE.match(number):
        raise InvalidConfig(
            N_("The hotline number must be 3–20 digits, optionally starting with +."),
            field="number",
        )
    await _unique(
        session,
        Hotline.number,
        number,
        hotline_id,
        "number",
        N_("Hotline {value} already exists."),
    )
    if data.group_id is None:
        raise InvalidConfig(N_("Choose the group that answers this hotline."), field="group_id")
    await _get(session, AgentGroup, data.group_id)
    codes = {g.code for g in await list_groups(session)}
    menu: dict[str, str] = {}
    for digit, code in data.menu.items():
        if not code:
            continue
        if digit not in MENU_KEYS:
            raise InvalidConfig(N_("Menu keys are single digits 0–9, * or #."), field="menu")
        if code not in codes:
            raise InvalidConfig(
                N_("Menu key {value} points to an unknown group."), field="menu", value=digit
            )
        menu[digit] = code
    if data.menu_enabled and not menu:
        raise InvalidConfig(N_("An enabled menu needs at least one key."), field="menu")
    hotline = Hotline() if hotline_id is None else await _get(session, Hotline, hotline_id)
    hotline.number = number
    hotline.name = data.name.strip()[:120]
    hotline.group_id = data.group_id
    hotline.menu_enabled = data.menu_enabled
    hotline.menu = dict(sorted(menu.items()))
    hotline.menu_timeout_seconds = _bounded(
        data.menu_timeout_seconds, 1, 30, "menu_timeout_seconds"
    )
    hotline.closed_action = _choice(data.closed_action, OVERFLOW_ACTIONS, "closed_action")
    hotline.active = data.active
    session.add(hotline)
    await session.flush()
    return hotline


async def delete_hotline(session: AsyncSession, hotline_id: int) -> Hotline:
    return await _delete(session, Hotline, hotline_id)


async def list_hotlines(session: AsyncSession) -> list[Hotline]:
    return await _all(session, Hotline, Hotline.number)
