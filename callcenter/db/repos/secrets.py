"""The session-signing secret when the configuration leaves it empty.

It is generated once and kept in ``system_settings`` under
``auth.session_secret``, so restarts (and every process sharing the database)
keep accepting the same cookies. It therefore travels with database backups.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models.routing import SystemSetting

SECRET_KEY = "auth.session_secret"


async def load_or_create_session_secret(session: AsyncSession, now: datetime) -> str:
    existing = await session.get(SystemSetting, SECRET_KEY)
    if existing is not None and isinstance(existing.value, str) and len(existing.value) >= 32:
        return existing.value
    value = secrets.token_urlsafe(48)
    if existing is not None:
        existing.value = value
        existing.updated_at = now
        await session.commit()
        return value
    session.add(SystemSetting(key=SECRET_KEY, value=value, updated_at=now))
    try:
        await session.commit()
    except IntegrityError:  # another process created it first: use theirs
        await session.rollback()
        stored = await session.get(SystemSetting, SECRET_KEY, populate_existing=True)
        assert stored is not None
        return str(stored.value)
    return value
