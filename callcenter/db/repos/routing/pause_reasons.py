"""Pause reasons agents pick (paid or not, optional time limit)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import PauseReason
from callcenter.db.repos.routing.common import N_, _all, _bounded, _coded_row, _delete, _name


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
