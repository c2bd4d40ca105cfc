"""Recorded prompts (announcements) the dialplan plays, by code."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Prompt
from callcenter.db.repos.routing.common import _all, _code, _delete


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
