"""The centre-wide numbers the admin may change (wrap-up, missed calls before pause,
default timeouts…): their specs and labels, reading them with defaults, saving them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import SystemSetting
from callcenter.db.repos.routing.common import N_, InvalidConfig, _bounded


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
    SettingSpec(
        "survey_after_call",
        N_("After-call survey (1 = on, 0 = off)"),
        N_("When the agent hangs up, the caller is asked to score the call from 1 to 5."),
        0,
        0,
        1,
    ),
    SettingSpec(
        "service_level_seconds",
        N_("Service level threshold (seconds)"),
        N_("A call answered within this wait counts as answered in time (wallboard, reports)."),
        20,
        1,
        600,
    ),
    SettingSpec(
        "short_abandon_seconds",
        N_("Short abandon (seconds)"),
        N_("A caller who hangs up within this wait is left out of the service level."),
        5,
        0,
        120,
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
    survey_after_call: int = 0
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5


async def load_system_settings(session: AsyncSession) -> SystemSettings:
    stored = {row.key: row.value for row in (await session.scalars(select(SystemSetting))).all()}
    values: dict[str, int] = {}
    for spec in SETTING_SPECS:
        value = stored.get(spec.key, spec.default)
        values[spec.key] = value if isinstance(value, int) else spec.default
    return SystemSettings(**values)


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
