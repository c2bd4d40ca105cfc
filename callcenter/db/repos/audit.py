"""The audit log: who did what, when and from where.

The application only appends (:func:`record`) and reads (:func:`search`);
there is deliberately no update or delete here. Actions are short dotted
names (``login.success``, ``user.role``); see :data:`ACTIONS` for the known ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models.audit import AuditEntry
from callcenter.i18n import N_

#: Known actions and how the audit page names them (others still show, by their code).
ACTIONS: dict[str, str] = {
    "login.success": N_("Logged in"),
    "login.failure": N_("Failed login"),
    "login.blocked": N_("Login blocked (too many failures)"),
    "logout": N_("Logged out"),
    "user.create": N_("User created"),
    "user.update": N_("User changed"),
    "user.password": N_("Password changed"),
    "user.role": N_("Role changed"),
    "user.delete": N_("User deleted"),
    "config.change": N_("Configuration changed"),
    "export": N_("Export"),
    "delete": N_("Deletion"),
    "recording.play": N_("Recording played"),
    "recording.listen": N_("Recording listened to"),
    "call.listen": N_("Listened in on a call"),
    "call.whisper": N_("Whispered to an agent on a call"),
    "call.barge": N_("Barged in on a call"),
    "backup": N_("Backup"),
    "restore": N_("Restore"),
    "customer.do_not_call": N_("Customer marked do-not-call"),
    "customer.do_not_call_cleared": N_("Do-not-call cleared"),
    "call.do_not_call_override": N_("Do-not-call customer called anyway"),
    "task.cancelled": N_("Planned call cancelled"),
}


class Actor(Protocol):
    """Anything with an id and a username: a ``User`` row or the request's ``CurrentUser``."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


async def record(
    session: AsyncSession,
    *,
    action: str,
    user: Actor | None = None,
    target: str = "",
    address: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    username: str = "",
) -> AuditEntry:
    """Append one entry (flushed; the caller commits with the change it describes).

    ``username`` records a name without an account (e.g. a failed login for an unknown name).
    """
    entry = AuditEntry(
        user_id=user.id if user is not None else None,
        username=(user.username if user is not None else username)[:64],
        action=action[:48],
        target=target[:200],
        address=address[:64],
        details=dict(details or {}),
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


async def search(
    session: AsyncSession, where: AuditFilter, *, limit: int = 200, offset: int = 0
) -> tuple[Sequence[AuditEntry], int]:
    """Entries matching ``where``, newest first, and how many match in total."""
    query = select(AuditEntry)
    if where.username:
        query = query.where(func.lower(AuditEntry.username) == where.username.strip().lower())
    if where.action:
        query = query.where(AuditEntry.action == where.action)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(
            query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
        )
    ).scalars()
    return rows.all(), int(total)
