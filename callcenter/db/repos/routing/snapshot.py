"""The immutable :class:`RoutingConfig` snapshot the ACD reads in one go
(:func:`load_routing_config`) and reloads whenever the console publishes
``config_changed``, with the read-only records it is made of.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.acd import AcdSettings, GroupConfig, Strategy
from callcenter.core.hours import OfficeHours
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    BusinessHours,
    Holiday,
    Hotline,
    PauseReason,
    Prompt,
    User,
)
from callcenter.db.repos.routing.settings import SystemSettings, load_system_settings
from callcenter.localtime import DEFAULT_ZONE


@dataclass(frozen=True, slots=True)
class GroupMemberConfig:
    user_id: int
    username: str
    full_name: str
    interface: str
    priority: int
    active: bool


@dataclass(frozen=True, slots=True)
class AgentGroupConfig:
    id: int
    code: str
    name: str
    strategy: str
    ring_timeout_seconds: int
    max_wait_seconds: int
    overflow_action: str
    active: bool
    members: tuple[GroupMemberConfig, ...] = ()

    @property
    def active_member_ids(self) -> tuple[int, ...]:
        """Members who may be offered calls, lowest priority number first."""
        return tuple(member.user_id for member in self.members if member.active)


@dataclass(frozen=True, slots=True)
class HotlineConfig:
    id: int
    number: str
    name: str
    group_code: str | None
    menu_enabled: bool
    menu: Mapping[str, str]
    menu_timeout_seconds: int
    closed_action: str
    active: bool


@dataclass(frozen=True, slots=True)
class OpeningInterval:
    """One opening interval of a weekday (0 = Monday), local time, ``opens < closes``."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class HolidayOverride:
    """An admin's entry for one day: closed (extra holiday) or open (despite the calendar)."""

    id: int
    day: date
    name: str
    closed: bool


@dataclass(frozen=True, slots=True)
class PauseReasonConfig:
    id: int
    code: str
    name: str
    name_en: str
    paid: bool
    max_minutes: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class PromptConfig:
    code: str
    name: str
    filename: str
    duration_seconds: float


@lru_cache(maxsize=16)
def public_holidays(years: tuple[int, ...]) -> dict[date, str]:
    """Vietnam's public holidays (lunar Tết included) with Vietnamese names (do not mutate)."""
    calendar = holiday_calendars.country_holidays("VN", years=list(years), language="vi")
    return dict(sorted(calendar.items()))


@dataclass(frozen=True)
class RoutingConfig:
    """Everything routing needs, read in one go: immutable, safe to share between tasks.

    The ``acd_settings``/``group_configs``/``office_hours`` methods hand it to the
    pure core (:mod:`callcenter.core.acd`, :mod:`callcenter.core.hours`) in its own types.
    """

    groups: Mapping[str, AgentGroupConfig]
    hotlines: Mapping[str, HotlineConfig]
    hours: Mapping[int | None, tuple[OpeningInterval, ...]]
    overrides: Mapping[date, HolidayOverride]
    pause_reasons: tuple[PauseReasonConfig, ...]
    settings: SystemSettings
    prompts: Mapping[str, PromptConfig]

    def hours_for(self, hotline_id: int | None) -> tuple[OpeningInterval, ...]:
        """A hotline's own weekly hours, or the centre's common hours if it has none."""
        if hotline_id is not None and self.hours.get(hotline_id):
            return self.hours[hotline_id]
        return self.hours.get(None, ())

    def office_hours(
        self, hotline_number: str | None, zone: ZoneInfo = DEFAULT_ZONE
    ) -> OfficeHours:
        """The opening rules of one hotline (None: the common hours) for the core's check.
        No hours at all means open around the clock; public holidays close unless overridden."""
        hotline = self.hotlines.get(hotline_number) if hotline_number else None
        spans = self.hours_for(hotline.id if hotline else None)
        return OfficeHours.build(
            [(i.weekday, i.opens, i.closes) for i in spans],
            [(o.day, o.closed, o.name) for o in self.overrides.values()],
            zone=zone,
        )

    def closed_reason(self, day: date) -> str | None:
        """Why the centre is closed all day (holiday name), or None on a working day."""
        override = self.overrides.get(day)
        if override is not None:
            return (override.name or "closed") if override.closed else None
        return public_holidays((day.year,)).get(day)

    def is_open(
        self, hotline_number: str, instant: datetime, zone: ZoneInfo = DEFAULT_ZONE
    ) -> bool:
        """Whether calls to this (active) hotline are taken at ``instant``."""
        hotline = self.hotlines.get(hotline_number)
        if hotline is None or not hotline.active:
            return False
        return self.office_hours(hotline_number, zone).check(instant).open

    def acd_settings(self, zone: ZoneInfo = DEFAULT_ZONE) -> AcdSettings:
        return AcdSettings(
            wrapup_seconds=float(self.settings.wrapup_seconds),
            missed_calls_pause_after=self.settings.missed_calls_before_pause,
            sticky_seconds=float(self.settings.sticky_agent_seconds),
            page_grace_seconds=float(self.settings.page_grace_seconds),
            zone=zone,
        )

    def group_configs(self) -> dict[str, GroupConfig]:
        """Active groups with their active members (agent id → priority)."""
        return {
            group.code: GroupConfig(
                code=group.code,
                strategy=Strategy(group.strategy),
                ring_timeout=float(group.ring_timeout_seconds),
                max_wait=float(group.max_wait_seconds),
                overflow_action=group.overflow_action,
                members={m.user_id: m.priority for m in group.members if m.active},
            )
            for group in self.groups.values()
            if group.active
        }


async def load_routing_config(session: AsyncSession) -> RoutingConfig:
    """One consistent snapshot of the routing configuration (a handful of queries)."""
    # Plain column rows, not ORM objects: the ACD reloads this on every admin change.
    member_rows = await session.execute(
        select(
            AgentGroupMember.group_id,
            AgentGroupMember.priority,
            User.id,
            User.username,
            User.full_name,
            User.interface,
            User.active,
        )
        .join(User, User.id == AgentGroupMember.user_id)
        .order_by(AgentGroupMember.priority, AgentGroupMember.user_id)
    )
    members: dict[int, list[GroupMemberConfig]] = {}
    for group_id, priority, user_id, username, full_name, interface, active in member_rows:
        members.setdefault(group_id, []).append(
            GroupMemberConfig(user_id, username, full_name, interface, priority, active)
        )
    group_rows = (await session.scalars(select(AgentGroup).order_by(AgentGroup.code))).all()
    groups = {
        g.code: AgentGroupConfig(
            id=g.id,
            code=g.code,
            name=g.name,
            strategy=g.strategy,
            ring_timeout_seconds=g.ring_timeout_seconds,
            max_wait_seconds=g.max_wait_seconds,
            overflow_action=g.overflow_action,
            active=g.active,
            members=tuple(members.get(g.id, ())),
        )
        for g in group_rows
    }
    code_of = {g.id: g.code for g in group_rows}
    hotlines = {
        h.number: HotlineConfig(
            id=h.id,
            number=h.number,
            name=h.name,
            group_code=code_of.get(h.group_id) if h.group_id is not None else None,
            menu_enabled=h.menu_enabled,
            menu=MappingProxyType(dict(h.menu or {})),
            menu_timeout_seconds=h.menu_timeout_seconds,
            closed_action=h.closed_action,
            active=h.active,
        )
        for h in (await session.scalars(select(Hotline).order_by(Hotline.number))).all()
    }
    hours: dict[int | None, list[OpeningInterval]] = {}
    for opening in (
        await session.scalars(
            select(BusinessHours).order_by(BusinessHours.weekday, BusinessHours.opens)
        )
    ).all():
        hours.setdefault(opening.hotline_id, []).append(
            OpeningInterval(opening.weekday, opening.opens, opening.closes)
        )
    overrides = {
        h.day: HolidayOverride(h.id, h.day, h.name, h.closed)
        for h in (await session.scalars(select(Holiday))).all()
    }
    pauses = tuple(
        PauseReasonConfig(p.id, p.code, p.name, p.name_en, p.paid, p.max_minutes, p.active)
        for p in (await session.scalars(select(PauseReason).order_by(PauseReason.id))).all()
    )
    prompts = {
        p.code: PromptConfig(p.code, p.name, p.filename, p.duration_seconds)
        for p in (await session.scalars(select(Prompt))).all()
    }
    return RoutingConfig(
        groups=MappingProxyType(groups),
        hotlines=MappingProxyType(hotlines),
        hours=MappingProxyType({key: tuple(value) for key, value in hours.items()}),
        overrides=MappingProxyType(overrides),
        pause_reasons=pauses,
        settings=await load_system_settings(session),
        prompts=MappingProxyType(prompts),
    )
