"""How calls reach agents, as the admin configures it: hotlines, agent groups, hours, pauses.

The ACD reads these (and reloads them when the admin console publishes
``config_changed``); the agent state log records every state an agent was in.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db.base import Base
from callcenter.db.models._common import utcnow


class AgentGroup(Base):
    """A hotline group (e.g. "Kinh doanh"): the agents who answer one kind of call."""

    __tablename__ = "agent_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    strategy: Mapped[str] = mapped_column(
        String(24),
        default="fewest_calls",  # fair by default: the care plans divide calls evenly (counts)
        doc="fewest_calls, least_recent, round_robin, ring_all",
    )
    ring_timeout_seconds: Mapped[int] = mapped_column(default=15)
    max_wait_seconds: Mapped[int] = mapped_column(default=300)
    overflow_action: Mapped[str] = mapped_column(
        String(16), default="callback", doc="callback or voicemail"
    )
    active: Mapped[bool] = mapped_column(default=True)

    members: Mapped[list[AgentGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="AgentGroupMember.priority"
    )


class AgentGroupMember(Base):
    __tablename__ = "agent_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("agent_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    priority: Mapped[int] = mapped_column(default=0, doc="Lower rings first when strategies tie")

    group: Mapped[AgentGroup] = relationship(back_populates="members")


class Hotline(Base):
    """A number customers dial (DID), its default group and optional IVR menu."""

    __tablename__ = "hotlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("agent_groups.id", ondelete="SET NULL"))
    menu_enabled: Mapped[bool] = mapped_column(default=False)
    menu: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, doc='{"1": "sales", ...} digit → group code'
    )
    menu_timeout_seconds: Mapped[int] = mapped_column(default=5)
    closed_action: Mapped[str] = mapped_column(
        String(16), default="callback", doc="callback or voicemail"
    )
    active: Mapped[bool] = mapped_column(default=True)


class BusinessHours(Base):
    """Opening hours of one weekday (0 = Monday), local time; a hotline of NULL means all."""

    __tablename__ = "business_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    hotline_id: Mapped[int | None] = mapped_column(ForeignKey("hotlines.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Holiday(Base):
    """A day the centre is closed (or, with closed=False, open despite the public calendar)."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    closed: Mapped[bool] = mapped_column(default=True)


class PauseReason(Base):
    __tablename__ = "pause_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    paid: Mapped[bool] = mapped_column(default=True)
    max_minutes: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)


class SystemSetting(Base):
    """Centre-wide values the admin changes at run time (wrap-up seconds, missed-call limit...)."""

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    """An audio prompt for Asterisk (8 kHz mono WAV), uploaded or generated with espeak-ng."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(160), default="")
    filename: Mapped[str] = mapped_column(String(200))
    duration_seconds: Mapped[float] = mapped_column(default=0.0)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentStateLog(Base):
    """Every state an agent was in, with start and end: reports and pay depend on it."""

    __tablename__ = "agent_state_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(
        String(16), doc="logged_out, available, ringing, on_call, wrapup, paused"
    )
    reason: Mapped[str] = mapped_column(String(32), default="")
    interface: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
