"""After-call survey answers (``call_surveys``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models.surveys import CallSurvey


async def save_score(
    session: AsyncSession,
    *,
    linkedid: str,
    uniqueid: str,
    score: int,
    caller: str,
    agent_id: int | None,
    at: datetime,
) -> bool:
    """Store a caller's score; False if this channel already answered (a replayed request)."""
    existing = await session.scalar(select(CallSurvey.id).where(CallSurvey.uniqueid == uniqueid))
    if existing is not None:
        return False
    session.add(
        CallSurvey(
            linkedid=linkedid,
            uniqueid=uniqueid,
            score=score,
            caller=caller[:40],
            agent_id=agent_id,
            answered_at=at,
        )
    )
    await session.flush()
    return True


async def scores_for(session: AsyncSession, linkedid: str) -> Sequence[CallSurvey]:
    rows = await session.scalars(
        select(CallSurvey).where(CallSurvey.linkedid == linkedid).order_by(CallSurvey.id)
    )
    return rows.all()
