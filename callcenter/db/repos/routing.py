"""Read and change the routing configuration the admin console edits.

Two audiences: the ACD reads one immutable :class:`RoutingConfig` snapshot
(:func:`load_routing_config`) and reloads it whenever the console publishes
``config_changed``; the console writes through the ``save_*``/``set_*``
functions, which validate every value and raise :class:`InvalidConfig` with a
message an admin can act on *before* anything is written. Writers only flush:
the caller owns the transaction (and writes the audit entry in the same one).

Messages are English gettext msgids with ``{name}`` parameters, marked with
``N_`` so Babel extracts them; the web layer translates them per user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.core.acd import AcdSettings, GroupConfig, Strategy
from callcenter.core.hours import OfficeHours
from callcenter.db.models import (
    AgentGroup,
    AgentGroupMember,
    BusinessHours,
    Category,
    Department,
    Holiday,
    Hotline,
    PauseReason,
    Prompt,
    SystemSetting,
    User,
)
from callcenter.localtime import DEFAULT_ZONE

RowT = TypeVar("RowT")


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it here."""
    return message


class InvalidConfig(ValueError):
    """A value the admin must correct. ``field`` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str = "", **params: Any) -> None:
        self.message = message
        self.field = field
        self.params = params
        super().__init__(message.format(**params) if params else message)


# --------------------------------------------------------------------------- snapshot


STRATEGIES = ("least_recent", "fewest_calls", "round_robin", "ring_all")
OVERFLOW_ACTIONS = ("callback", "voicemail")
MENU_KEYS = frozenset("0123456789*#")


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


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One centre-wide number the admin may change: its bounds and its label."""

    key: str
    label: str
    help: str
    default: int
    minimum: int
    maximum: int


SETTING_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "wrapup_seconds",
        N_("Wrap-up time (seconds)"),
        N_("Time after each call before the agent is offered the next one."),
        15,
        0,
        900,
    ),
    SettingSpec(
        "missed_calls_before_pause",
        N_("Missed calls before automatic pause"),
        N_("An agent who misses this many offered calls in a row is paused."),
        2,
        1,
        20,
    ),
    SettingSpec(
        "ring_timeout_seconds",
        N_("Default ring timeout (seconds)"),
        N_("How long an agent's phone rings before the next agent; new groups start with it."),
        15,
        5,
        120,
    ),
    SettingSpec(
        "max_wait_seconds",
        N_("Default maximum wait (seconds)"),
        N_(
            "After this wait the caller is offered a callback or voicemail; new groups start with it."
        ),
        300,
        30,
        3600,
    ),
    SettingSpec(
        "page_grace_seconds",
        N_("Grace period after the agent page closes (seconds)"),
        N_("An agent whose page stays closed longer is no longer offered calls."),
        30,
        0,
        600,
    ),
    SettingSpec(
        "sticky_agent_seconds",
        N_("Sticky routing wait (seconds)"),
        N_("How long a caller with an open ticket waits for the agent who handled it."),
        10,
        0,
        60,
    ),
)
SETTINGS_BY_KEY = {spec.key: spec for spec in SETTING_SPECS}


@dataclass(frozen=True, slots=True)
class SystemSettings:
    """The centre-wide values the ACD needs, with defaults for keys never set."""

    wrapup_seconds: int = 15
    missed_calls_before_pause: int = 2
    ring_timeout_seconds: int = 15
    max_wait_seconds: int = 300
    page_grace_seconds: int = 30
    sticky_agent_seconds: int = 10


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


async def load_system_settings(session: AsyncSession) -> SystemSettings:
    stored = {row.key: row.value for row in (await session.scalars(select(SystemSetting))).all()}
    values: dict[str, int] = {}
    for spec in SETTING_SPECS:
        value = stored.get(spec.key, spec.default)
        values[spec.key] = value if isinstance(value, int) else spec.default
    return SystemSettings(**values)


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


# --------------------------------------------------------------------------- validation helpers

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
HOTLINE_RE = re.compile(r"^\+?[0-9]{3,20}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+*#]{0,40}$")

#: Asterisk channel technologies an agent's phone may use (canonical spelling).
TECHNOLOGIES = ("PJSIP", "SIP", "IAX2", "DAHDI", "Local", "WebRTC")
_TECH_BY_LOWER = {tech.lower(): tech for tech in TECHNOLOGIES}
# The part after TECH/: no blanks, commas (Dial's argument separator), '&' (handled apart),
# '$', '{', '}' (dialplan variable expansion), quotes, ';', '|', '(' or ')'.
_RESOURCE_RE = re.compile(r"^[A-Za-z0-9_.+@:/#*-]{1,100}$")


def normalize_interface(text: str) -> str:
    """Check an Asterisk dial string (``PJSIP/101``, ``Local/101@agents``, ``A&B``) and
    return it with the technology spelled canonically; empty means "no phone"."""
    value = text.strip()
    if not value:
        return ""
    if len(value) > 120:
        raise InvalidConfig(
            N_("The phone interface is too long (at most 120 characters)."), field="interface"
        )
    parts = []
    for part in value.split("&"):
        tech, slash, resource = part.partition("/")
        canonical = _TECH_BY_LOWER.get(tech.lower())
        if (
            not slash
            or canonical is None
            or not _RESOURCE_RE.match(resource)
            or resource.endswith("/")
        ):
            raise InvalidConfig(
                N_(
                    "The phone interface {value} is not an Asterisk dial string such as "
                    "PJSIP/101 (technology: {technologies})."
                ),
                field="interface",
                value=value,
                technologies=", ".join(TECHNOLOGIES),
            )
        parts.append(f"{canonical}/{resource}")
    return "&".join(parts)


def _code(value: str, field_name: str = "code") -> str:
    value = value.strip().lower()
    if not CODE_RE.match(value):
        raise InvalidConfig(
            N_("The code must be 1–32 lowercase letters, digits, '-' or '_' (e.g. sales)."),
            field=field_name,
        )
    return value


def check_code(value: str) -> str:
    """A short unique code as stored (lowercase), or InvalidConfig naming the rule."""
    return _code(value)


def _name(value: str, field_name: str = "name", limit: int = 120) -> str:
    value = value.strip()
    if not value:
        raise InvalidConfig(N_("The name must not be empty."), field=field_name)
    if len(value) > limit:
        raise InvalidConfig(
            N_("The name is too long (at most {limit} characters)."),
            field=field_name,
            limit=limit,
        )
    return value


def _bounded(value: int, low: int, high: int, field_name: str) -> int:
    if not low <= value <= high:
        raise InvalidConfig(
            N_("The value must be between {low} and {high}."),
            field=field_name,
            low=low,
            high=high,
        )
    return value


def _choice(value: str, choices: Sequence[str], field_name: str) -> str:
    if value not in choices:
        raise InvalidConfig(N_("Please choose one of the listed options."), field=field_name)
    return value


async def _unique(
    session: AsyncSession,
    column: Any,
    value: Any,
    own_id: int | None,
    field_name: str,
    message: str,
) -> None:
    model = column.class_
    existing = await session.scalar(select(model).where(column == value))
    if existing is not None and getattr(existing, "id", None) != own_id:
        raise InvalidConfig(message, field=field_name, value=value)


async def _get(session: AsyncSession, model: type[RowT], ident: int) -> RowT:
    row = await session.get(model, ident)
    if row is None:
        raise InvalidConfig(N_("This entry no longer exists; it may have been deleted."))
    return row


async def _coded_row(
    session: AsyncSession, model: Any, raw_code: str, own_id: int | None, duplicate: str
) -> tuple[str, Any]:
    """The checked code of a code-keyed entry and the row to write: a new one when ``own_id``
    is None, else the stored one. ``duplicate`` is the message when another row has the code."""
    code = _code(raw_code)
    await _unique(session, model.code, code, own_id, "code", duplicate)
    row = model() if own_id is None else await _get(session, model, own_id)
    return code, row


async def _delete(session: AsyncSession, model: type[RowT], ident: int) -> RowT:
    row = await _get(session, model, ident)
    await session.delete(row)
    await session.flush()
    return row


async def _all(session: AsyncSession, model: type[RowT], order_by: Any) -> list[RowT]:
    return list((await session.scalars(select(model).order_by(order_by))).all())


# --------------------------------------------------------------------------- agent groups


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


# --------------------------------------------------------------------------- hotlines


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


# --------------------------------------------------------------------------- hours and holidays


def check_intervals(intervals: Sequence[OpeningInterval]) -> list[OpeningInterval]:
    """Sorted intervals; refuse empty, reversed and overlapping ones on the same weekday."""
    ordered = sorted(intervals, key=lambda i: (i.weekday, i.opens))
    for index, interval in enumerate(ordered):
        _bounded(interval.weekday, 0, 6, "hours")
        if interval.opens >= interval.closes:
            raise InvalidConfig(
                N_("The closing time must be after the opening time."),
                field=f"hours-{interval.weekday}",
            )
        previous = ordered[index - 1] if index else None
        if previous and previous.weekday == interval.weekday and previous.closes > interval.opens:
            raise InvalidConfig(
                N_("Two opening intervals of the same day overlap."),
                field=f"hours-{interval.weekday}",
            )
    return ordered


async def set_business_hours(
    session: AsyncSession, hotline_id: int | None, intervals: Sequence[OpeningInterval]
) -> None:
    """Replace the weekly hours of one hotline (or, with None, the centre's common hours).
    An empty list for a hotline means "use the common hours"."""
    ordered = check_intervals(intervals)
    if hotline_id is not None:
        await _get(session, Hotline, hotline_id)
    scope = (
        BusinessHours.hotline_id.is_(None)
        if hotline_id is None
        else BusinessHours.hotline_id == hotline_id
    )
    await session.execute(delete(BusinessHours).where(scope))
    for interval in ordered:
        session.add(
            BusinessHours(
                hotline_id=hotline_id,
                weekday=interval.weekday,
                opens=interval.opens,
                closes=interval.closes,
            )
        )
    await session.flush()


async def business_hours(session: AsyncSession, hotline_id: int | None) -> list[OpeningInterval]:
    scope = (
        BusinessHours.hotline_id.is_(None)
        if hotline_id is None
        else BusinessHours.hotline_id == hotline_id
    )
    rows = await session.scalars(
        select(BusinessHours).where(scope).order_by(BusinessHours.weekday, BusinessHours.opens)
    )
    return [OpeningInterval(r.weekday, r.opens, r.closes) for r in rows]


async def save_holiday(session: AsyncSession, day: date, name: str, closed: bool) -> Holiday:
    """Add or replace the admin's entry for one day."""
    name = name.strip()
    if len(name) > 120:
        raise InvalidConfig(
            N_("The name is too long (at most {limit} characters)."), field="name", limit=120
        )
    holiday = await session.scalar(select(Holiday).where(Holiday.day == day)) or Holiday(day=day)
    holiday.name = name
    holiday.closed = closed
    session.add(holiday)
    await session.flush()
    return holiday


async def delete_holiday(session: AsyncSession, holiday_id: int) -> Holiday:
    return await _delete(session, Holiday, holiday_id)


async def list_holidays(session: AsyncSession) -> list[Holiday]:
    return await _all(session, Holiday, Holiday.day)


# --------------------------------------------------------------------------- pause reasons


@dataclass
class PauseReasonInput:
    code: str
    name: str
    name_en: str = ""
    paid: bool = True
    max_minutes: int | None = None
    active: bool = True


async def save_pause_reason(
    session: AsyncSession, data: PauseReasonInput, reason_id: int | None = None
) -> PauseReason:
    code, reason = await _coded_row(
        session,
        PauseReason,
        data.code,
        reason_id,
        N_("A pause reason with code {value} already exists."),
    )
    reason.code = code
    reason.name = _name(data.name)
    reason.name_en = data.name_en.strip()[:120]
    reason.paid = data.paid
    reason.max_minutes = (
        None if data.max_minutes is None else _bounded(data.max_minutes, 1, 480, "max_minutes")
    )
    reason.active = data.active
    session.add(reason)
    await session.flush()
    return reason


async def delete_pause_reason(session: AsyncSession, reason_id: int) -> PauseReason:
    return await _delete(session, PauseReason, reason_id)


async def list_pause_reasons(session: AsyncSession) -> list[PauseReason]:
    return await _all(session, PauseReason, PauseReason.id)


# --------------------------------------------------------------------------- system settings


async def save_settings(
    session: AsyncSession, values: Mapping[str, int], now: datetime
) -> dict[str, tuple[int, int]]:
    """Store the given settings; returns ``key → (old, new)`` for the ones that changed."""
    current = await load_system_settings(session)
    changed: dict[str, tuple[int, int]] = {}
    for key, value in values.items():
        spec = SETTINGS_BY_KEY.get(key)
        if spec is None:
            raise InvalidConfig(N_("Unknown setting {value}."), field=key, value=key)
        _bounded(value, spec.minimum, spec.maximum, key)
    for key, value in values.items():
        old = getattr(current, key)
        if old == value:
            continue
        row = await session.get(SystemSetting, key) or SystemSetting(key=key)
        row.value = value
        row.updated_at = now.astimezone(UTC)
        session.add(row)
        changed[key] = (old, value)
    await session.flush()
    return changed


# --------------------------------------------------------------------------- prompts


async def save_prompt(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    filename: str,
    duration_seconds: float,
    uploaded_by_id: int | None,
    now: datetime,
) -> Prompt:
    """Record an uploaded prompt (a new code, or a new recording for an existing one)."""
    code = _code(code)
    prompt = await session.scalar(select(Prompt).where(Prompt.code == code)) or Prompt(code=code)
    prompt.name = name.strip()[:160]
    prompt.filename = filename
    prompt.duration_seconds = duration_seconds
    prompt.uploaded_by_id = uploaded_by_id
    prompt.uploaded_at = now.astimezone(UTC)
    session.add(prompt)
    await session.flush()
    return prompt


async def delete_prompt(session: AsyncSession, prompt_id: int) -> Prompt:
    return await _delete(session, Prompt, prompt_id)


async def list_prompts(session: AsyncSession) -> list[Prompt]:
    return await _all(session, Prompt, Prompt.code)


# --------------------------------------------------------------------------- departments, categories


@dataclass
class DepartmentInput:
    code: str
    name: str
    name_en: str = ""
    email: str = ""
    phone: str = ""
    active: bool = True


async def save_department(
    session: AsyncSession, data: DepartmentInput, department_id: int | None = None
) -> Department:
    code, department = await _coded_row(
        session,
        Department,
        data.code,
        department_id,
        N_("A department with code {value} already exists."),
    )
    email = data.email.strip()
    if email and not EMAIL_RE.match(email):
        raise InvalidConfig(N_("{value} is not an email address."), field="email", value=email)
    phone = re.sub(r"[\s.-]", "", data.phone)
    if not PHONE_RE.match(phone):
        raise InvalidConfig(N_("The phone must contain only digits (and + * #)."), field="phone")
    department.code = code
    department.name = _name(data.name)
    department.name_en = data.name_en.strip()[:120]
    department.email = email
    department.phone = phone
    department.active = data.active
    session.add(department)
    await session.flush()
    return department


@dataclass(frozen=True)
class DepartmentMember:
    user_id: int
    priority: int
    is_head: bool = False


async def set_department_members(
    session: AsyncSession, department_id: int, members: Sequence[DepartmentMember]
) -> None:
    """Make exactly these users the department's members, in this priority order;
    users who were members and are not listed leave the department."""
    await _get(session, Department, department_id)
    wanted = {m.user_id: m for m in members}
    if len(wanted) != len(members):
        raise InvalidConfig(N_("A person is listed twice in the department."), field="members")
    for member in members:
        _bounded(member.priority, 0, 999, "members")
    users = {
        u.id: u for u in (await session.scalars(select(User).where(User.id.in_(wanted)))).all()
    }
    if set(users) != set(wanted):
        raise InvalidConfig(N_("One of the chosen people no longer exists."), field="members")
    current = (await session.scalars(select(User).where(User.department_id == department_id))).all()
    for user in current:
        if user.id not in wanted:
            user.department_id = None
            user.is_department_head = False
            user.department_priority = 0
    for user_id, member in wanted.items():
        user = users[user_id]
        user.department_id = department_id
        user.department_priority = member.priority
        user.is_department_head = member.is_head
    await session.flush()


async def department_members(session: AsyncSession, department_id: int) -> list[User]:
    rows = await session.scalars(
        select(User)
        .where(User.department_id == department_id)
        .order_by(User.department_priority, User.username)
    )
    return list(rows.all())


async def delete_department(session: AsyncSession, department_id: int) -> Department:
    """Delete a department; its categories and people keep existing, unassigned."""
    await set_department_members(session, department_id, [])
    return await _delete(session, Department, department_id)


async def list_departments(session: AsyncSession) -> list[Department]:
    return await _all(session, Department, Department.code)


@dataclass
class CategoryInput:
    code: str
    name: str
    name_en: str = ""
    department_id: int | None = None
    sla_hours: int = 24
    active: bool = True


async def save_category(
    session: AsyncSession, data: CategoryInput, category_id: int | None = None
) -> Category:
    code, category = await _coded_row(
        session,
        Category,
        data.code,
        category_id,
        N_("A category with code {value} already exists."),
    )
    if data.department_id is not None:
        await _get(session, Department, data.department_id)
    category.code = code
    category.name = _name(data.name, limit=160)
    category.name_en = data.name_en.strip()[:160]
    category.department_id = data.department_id
    category.sla_hours = _bounded(data.sla_hours, 1, 720, "sla_hours")
    category.active = data.active
    session.add(category)
    await session.flush()
    return category


async def delete_category(session: AsyncSession, category_id: int) -> Category:
    return await _delete(session, Category, category_id)


async def list_categories(session: AsyncSession) -> list[Category]:
    return await _all(session, Category, Category.code)
