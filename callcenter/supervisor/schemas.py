"""The supervisor room's JSON: the listen-in request and answer, the wallboard snapshot."""

from __future__ import annotations

from pydantic import BaseModel, Field

from callcenter.core.call_control import ListenMode


class ListenIn(BaseModel):
    agent_id: int
    mode: ListenMode = ListenMode.LISTEN  # listen, whisper, barge


class ListenOut(BaseModel):
    action_id: str
    mode: ListenMode
    phone: str  # the supervisor's phone that rings now
    linkedid: str  # the call listened to


class WaitingOut(BaseModel):
    caller: str
    group: str
    group_name: str
    priority: int
    since: str
    position: int


class CallerOut(BaseModel):
    number: str
    name: str
    since: str | None


class AgentOut(BaseModel):
    id: int
    name: str
    state: str  # logged_out, available, ringing, on_call, wrapup, paused
    reason: str  # a pause reason code
    since: str | None
    calls_today: int
    caller: CallerOut | None


class TodayOut(BaseModel):
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    service_level: float | None = Field(description="percent; None before any counted call")
    asa_seconds: float | None
    aht_seconds: float | None
    service_level_seconds: float
    short_abandon_seconds: float


class DepartmentOut(BaseModel):
    id: int | None
    name: str
    name_en: str
    open: int
    overdue: int


class TicketsOut(BaseModel):
    open: int
    overdue: int
    departments: list[DepartmentOut]


class CallbacksOut(BaseModel):
    open: int
    oldest_since: str | None


class BoardOut(BaseModel):
    type: str
    now: str
    day: str
    acd: bool
    waiting: list[WaitingOut]
    longest_wait_since: str | None
    agents: list[AgentOut]
    agent_counts: dict[str, int]
    today: TodayOut
    tickets: TicketsOut
    callbacks: CallbacksOut
